"""The Selenium scenarios run against a local chromedriver (its own Chromium) and through the pool's /webdriver.

Each takes the driver and the site's base URL and returns what a user would check, with nothing that differs
between any two runs (ids, ports): window handles as counts, URLs as paths, images as their format.
"""

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.print_page_options import PrintOptions
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

PAGES = {
    "/index.html": """<!doctype html><title>Index</title>
<h1 id="h">Hello</h1>
<form id="f" action="/result.html" method="get"><input id="name" name="name"><input id="btn" type="submit"></form>
<button id="clk" onclick="document.getElementById('h').textContent = 'clicked'">click me</button>
<a id="blank" href="/popup.html" target="_blank">blank link</a>
<button id="wopen" onclick="window.open('/popup.html', 'pw')">open popup</button>
<button id="al" onclick="window.r1 = alert('hi')">alert</button>
<button id="cf" onclick="window.r2 = confirm('sure?')">confirm</button>
<button id="pr" onclick="window.r3 = prompt('name?', 'x')">prompt</button>
<iframe id="fr" name="fr" src="/frame.html"></iframe>""",
    "/frame.html": """<!doctype html><title>Frame</title><p id="inframe">inside the frame</p><input id="fi">""",
    "/popup.html": """<!doctype html><title>Popup</title><p id="p">popup text</p>""",
    "/result.html": """<!doctype html><title>Result</title><p id="q"></p>
<script>document.getElementById('q').textContent = new URLSearchParams(location.search).get('name')</script>""",
}

Scenario = Callable[[WebDriver, str], Any]


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def handles(d: WebDriver, base: str) -> Any:
    return len(d.window_handles), d.current_window_handle in d.window_handles


def get(d: WebDriver, base: str) -> Any:
    d.get(base + "/index.html")
    return d.title, path_of(d.current_url)


def find_click(d: WebDriver, base: str) -> Any:
    d.find_element(By.ID, "clk").click()
    return d.find_element(By.ID, "h").text


def send_keys_submit(d: WebDriver, base: str) -> Any:
    d.get(base + "/index.html")
    d.find_element(By.ID, "name").send_keys("selenium test")
    d.find_element(By.ID, "f").submit()
    WebDriverWait(d, 5).until(lambda x: x.title == "Result")
    return d.find_element(By.ID, "q").text


def click_submit_button(d: WebDriver, base: str) -> Any:
    d.get(base + "/index.html")
    d.find_element(By.ID, "name").send_keys("via button")
    d.find_element(By.ID, "btn").click()
    WebDriverWait(d, 5).until(lambda x: x.title == "Result")
    return path_of(d.current_url)


def execute_script(d: WebDriver, base: str) -> Any:
    return d.execute_script("return [document.title, arguments[0] + 1]", 41)


def execute_async_script(d: WebDriver, base: str) -> Any:
    return d.execute_async_script("const done = arguments[arguments.length - 1]; setTimeout(() => done('ok'), 50)")


def _popup(d: WebDriver, base: str, link: str) -> Any:
    d.get(base + "/index.html")
    main, before = d.current_window_handle, set(d.window_handles)
    d.find_element(By.ID, link).click()
    WebDriverWait(d, 5).until(lambda x: len(x.window_handles) > len(before))
    d.switch_to.window((set(d.window_handles) - before).pop())
    WebDriverWait(d, 5).until(lambda x: x.title == "Popup")
    text = d.find_element(By.ID, "p").text
    d.close()
    d.switch_to.window(main)
    return text, len(d.window_handles)


def popup_window_open(d: WebDriver, base: str) -> Any:
    return _popup(d, base, "wopen")


def popup_target_blank(d: WebDriver, base: str) -> Any:
    return _popup(d, base, "blank")


def alert_accept(d: WebDriver, base: str) -> Any:
    d.get(base + "/index.html")
    d.find_element(By.ID, "al").click()
    alert = WebDriverWait(d, 5).until(lambda x: x.switch_to.alert)
    text = alert.text
    alert.accept()
    return text


def confirm_dismiss(d: WebDriver, base: str) -> Any:
    d.find_element(By.ID, "cf").click()
    alert = WebDriverWait(d, 5).until(lambda x: x.switch_to.alert)
    text = alert.text
    alert.dismiss()
    return text, d.execute_script("return window.r2")


def prompt_send_keys(d: WebDriver, base: str) -> Any:
    d.find_element(By.ID, "pr").click()
    alert = WebDriverWait(d, 5).until(lambda x: x.switch_to.alert)
    alert.send_keys("typed")
    alert.accept()
    return d.execute_script("return window.r3")


def iframe(d: WebDriver, base: str) -> Any:
    d.get(base + "/index.html")
    d.switch_to.frame("fr")
    inside = d.find_element(By.ID, "inframe").text
    d.find_element(By.ID, "fi").send_keys("in frame")
    value = d.find_element(By.ID, "fi").get_attribute("value")
    d.switch_to.default_content()
    return inside, value, d.find_element(By.ID, "h").text


def cookies(d: WebDriver, base: str) -> Any:
    d.get(base + "/index.html")
    d.add_cookie({"name": "c1", "value": "v1"})
    d.add_cookie({"name": "c2", "value": "v2", "path": "/"})
    names = sorted(c["name"] for c in d.get_cookies())
    one = d.get_cookie("c1")
    d.delete_cookie("c1")
    after = [c["name"] for c in d.get_cookies()]
    d.delete_all_cookies()
    return names, one and one["value"], after, d.get_cookies()


def screenshot(d: WebDriver, base: str) -> Any:
    return d.get_screenshot_as_png()[:8], d.find_element(By.ID, "h").screenshot_as_png[:8]


def print_page(d: WebDriver, base: str) -> Any:
    return d.print_page(PrintOptions())[:8]  # base64 of "%PDF-1."


def set_window_size(d: WebDriver, base: str) -> Any:
    d.set_window_size(1024, 700)
    return d.get_window_size()["width"], d.execute_script("return innerWidth")


def maximize(d: WebDriver, base: str) -> Any:
    d.maximize_window()
    return d.get_window_rect(), d.execute_script("return [innerWidth, innerHeight]")


def minimize(d: WebDriver, base: str) -> Any:
    d.minimize_window()
    return d.get_window_rect()


def fullscreen(d: WebDriver, base: str) -> Any:
    d.fullscreen_window()
    return d.get_window_rect(), d.execute_script("return [innerWidth, innerHeight]")


def back_forward_refresh(d: WebDriver, base: str) -> Any:
    d.get(base + "/index.html")
    d.get(base + "/popup.html")
    d.back()
    back = d.title
    d.forward()
    forward = d.title
    d.refresh()
    return back, forward, d.title


def page_source(d: WebDriver, base: str) -> Any:
    return "popup text" in d.page_source


def actions(d: WebDriver, base: str) -> Any:
    d.get(base + "/index.html")
    ActionChains(d).move_to_element(d.find_element(By.ID, "clk")).click().perform()
    return d.find_element(By.ID, "h").text


def new_window_tab(d: WebDriver, base: str) -> Any:
    before = len(d.window_handles)
    d.switch_to.new_window("tab")
    d.get(base + "/popup.html")
    return before, len(d.window_handles), d.title


def new_window_window(d: WebDriver, base: str) -> Any:
    d.switch_to.new_window("window")
    d.get(base + "/frame.html")
    return len(d.window_handles), d.title


def close_window(d: WebDriver, base: str) -> Any:
    before = len(d.window_handles)
    d.close()
    d.switch_to.window(d.window_handles[0])
    return before, len(d.window_handles)


SCENARIOS: list[tuple[str, Scenario]] = [
    ("window_handles_initial", handles),
    ("get", get),
    ("find_click", find_click),
    ("send_keys_submit", send_keys_submit),
    ("click_submit_button", click_submit_button),
    ("execute_script", execute_script),
    ("execute_async_script", execute_async_script),
    ("popup_window_open", popup_window_open),
    ("popup_target_blank", popup_target_blank),
    ("alert_accept", alert_accept),
    ("confirm_dismiss", confirm_dismiss),
    ("prompt_send_keys", prompt_send_keys),
    ("iframe", iframe),
    ("cookies", cookies),
    ("screenshot", screenshot),
    ("print_page", print_page),
    ("set_window_size", set_window_size),
    ("maximize", maximize),
    ("minimize", minimize),
    ("fullscreen", fullscreen),
    ("back_forward_refresh", back_forward_refresh),
    ("page_source", page_source),
    ("actions", actions),
    ("new_window_tab", new_window_tab),
    ("new_window_window", new_window_window),
    ("close_window", close_window),
    ("close_window_again", close_window),
    ("window_handles_final", handles),
]


def run_all(d: WebDriver, base: str) -> dict[str, Any]:
    """Every scenario's value, or its error's type and first line."""
    seen: dict[str, Any] = {}
    for name, scenario in SCENARIOS:
        try:
            seen[name] = scenario(d, base)
        except Exception as exc:  # a scenario's failure is a result to compare
            seen[name] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return seen
