"""The Selenium scenarios drive.py runs, one function each, given the driver and the test site's base URL."""

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def s_get(d, base):
    d.get(base + "/index.html")
    return d.title, d.current_url


def s_find_click(d, base):
    d.find_element(By.ID, "clk").click()
    return d.find_element(By.ID, "h").text


def s_send_keys_submit(d, base):
    d.get(base + "/index.html")
    el = d.find_element(By.ID, "name")
    el.send_keys("selenium test")
    d.find_element(By.ID, "f").submit()
    WebDriverWait(d, 5).until(lambda x: x.title == "Result")
    return d.find_element(By.ID, "q").text


def s_click_submit_button(d, base):
    d.get(base + "/index.html")
    d.find_element(By.ID, "name").send_keys("via button")
    d.find_element(By.ID, "btn").click()
    WebDriverWait(d, 5).until(lambda x: x.title == "Result")
    return d.current_url


def s_window_size(d, base):
    return d.get_window_size(), d.get_window_rect()


def s_set_window_size(d, base):
    d.set_window_size(1024, 700)
    return d.get_window_size(), d.execute_script("return [innerWidth, innerHeight]")


def s_maximize(d, base):
    d.maximize_window()
    return d.get_window_rect()


def s_execute_script(d, base):
    return d.execute_script("return [document.title, arguments[0] + 1, navigator.userAgent]", 41)


def s_execute_async_script(d, base):
    return d.execute_async_script("var cb = arguments[arguments.length-1]; setTimeout(function(){cb('async-ok')}, 100);")


def _popup(d, base, link):
    d.get(base + "/index.html")
    main = d.current_window_handle
    before = set(d.window_handles)
    d.find_element(By.ID, link).click()
    WebDriverWait(d, 5).until(lambda x: len(x.window_handles) > len(before))
    new = (set(d.window_handles) - before).pop()
    d.switch_to.window(new)
    WebDriverWait(d, 5).until(lambda x: x.title == "Popup")
    txt = d.find_element(By.ID, "p").text
    d.close()
    d.switch_to.window(main)
    return txt, len(d.window_handles)


def s_popup_window_open(d, base):
    return _popup(d, base, "wopen")


def s_popup_target_blank(d, base):
    return _popup(d, base, "blank")


def s_alert_accept(d, base):
    d.get(base + "/index.html")
    d.find_element(By.ID, "al").click()
    a = WebDriverWait(d, 5).until(lambda x: x.switch_to.alert)
    t = a.text
    a.accept()
    return t


def s_confirm_dismiss(d, base):
    d.find_element(By.ID, "cf").click()
    a = WebDriverWait(d, 5).until(lambda x: x.switch_to.alert)
    t = a.text
    a.dismiss()
    return t, d.execute_script("return window.r2")


def s_prompt_send_keys(d, base):
    d.find_element(By.ID, "pr").click()
    a = WebDriverWait(d, 5).until(lambda x: x.switch_to.alert)
    a.send_keys("typed")
    a.accept()
    return d.execute_script("return window.r3")


def s_iframe(d, base):
    d.get(base + "/index.html")
    d.switch_to.frame("fr")
    t = d.find_element(By.ID, "inframe").text
    d.find_element(By.ID, "fi").send_keys("in frame")
    v = d.find_element(By.ID, "fi").get_attribute("value")
    d.switch_to.default_content()
    return t, v, d.find_element(By.ID, "h").text


def s_cookies(d, base):
    d.get(base + "/index.html")
    d.add_cookie({"name": "c1", "value": "v1"})
    d.add_cookie({"name": "c2", "value": "v2", "path": "/"})
    got = d.get_cookies()
    one = d.get_cookie("c1")
    d.delete_cookie("c1")
    after = d.get_cookies()
    d.delete_all_cookies()
    final = d.get_cookies()
    return [c["name"] for c in got], one and one["value"], [c["name"] for c in after], final


def s_screenshot(d, base):
    png = d.get_screenshot_as_png()
    el = d.find_element(By.ID, "h").screenshot_as_png
    return len(png), len(el)


def s_print_page(d, base):
    from selenium.webdriver.common.print_page_options import PrintOptions
    return len(d.print_page(PrintOptions()))


def s_new_window_tab(d, base):
    before = d.window_handles
    d.switch_to.new_window("tab")
    d.get(base + "/popup.html")
    return len(before), len(d.window_handles), d.title


def s_new_window_window(d, base):
    d.switch_to.new_window("window")
    d.get(base + "/frame.html")
    return len(d.window_handles), d.title


def s_close_window(d, base):
    handles = d.window_handles
    d.close()
    d.switch_to.window(d.window_handles[0])
    return len(handles), len(d.window_handles), d.title


def s_back_forward_refresh(d, base):
    d.get(base + "/index.html")
    d.get(base + "/popup.html")
    d.back()
    t1 = d.title
    d.forward()
    t2 = d.title
    d.refresh()
    return t1, t2, d.title


def s_page_source(d, base):
    return len(d.page_source)


def s_actions(d, base):
    from selenium.webdriver.common.action_chains import ActionChains
    d.get(base + "/index.html")
    ActionChains(d).move_to_element(d.find_element(By.ID, "clk")).click().perform()
    return d.find_element(By.ID, "h").text


def s_logs(d, base):
    return d.get_log("browser")[:3]


def s_window_handles(d, base):
    return d.window_handles, d.current_window_handle


def s_minimize(d, base):
    d.minimize_window()
    return d.get_window_rect()


def s_fullscreen(d, base):
    d.fullscreen_window()
    return d.get_window_rect()


def s_bidi_probe(d, base):
    return d.capabilities.get("webSocketUrl")


SCENARIOS = [
    ("window_handles_initial", s_window_handles),
    ("get", s_get),
    ("find_click", s_find_click),
    ("send_keys_submit", s_send_keys_submit),
    ("click_submit_button", s_click_submit_button),
    ("window_size", s_window_size),
    ("execute_script", s_execute_script),
    ("execute_async_script", s_execute_async_script),
    ("popup_window_open", s_popup_window_open),
    ("popup_target_blank", s_popup_target_blank),
    ("alert_accept", s_alert_accept),
    ("confirm_dismiss", s_confirm_dismiss),
    ("prompt_send_keys", s_prompt_send_keys),
    ("iframe", s_iframe),
    ("cookies", s_cookies),
    ("screenshot", s_screenshot),
    ("print_page", s_print_page),
    ("set_window_size", s_set_window_size),
    ("maximize", s_maximize),
    ("minimize", s_minimize),
    ("fullscreen", s_fullscreen),
    ("back_forward_refresh", s_back_forward_refresh),
    ("page_source", s_page_source),
    ("actions", s_actions),
    ("browser_log", s_logs),
    ("new_window_tab", s_new_window_tab),
    ("new_window_window", s_new_window_window),
    ("close_window", s_close_window),
    ("close_window_2", s_close_window),
    ("window_handles_final", s_window_handles),
]
