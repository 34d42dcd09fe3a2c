"""What a WebDriver session runs beside its context: a chromedriver (`chromedriver.py`) attached through the
session's loopback DevTools discovery door (`door.py`), whose every CDP message goes through the session's
relay and its one policy table. It imports no Playwright: an API node runs it."""
