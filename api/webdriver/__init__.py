"""The WebDriver endpoint's parts: capabilities read as a create body (`capabilities.py`), WebDriver's error
shape (`errors.py`) and the sessions this node drives with a chromedriver each (`host.py`). The routes are
api/routes/webdriver.py; chromedriver and the session's discovery door are workers/webdriver/."""
