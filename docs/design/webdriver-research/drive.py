"""Drive chromedriver (debuggerAddress mode) through the shim, scenario by scenario.

Usage: drive.py CDPORT SHIMPORT SITEPORT OUTJSON [--bidi] [--only=NAME ...]   (the scenarios: scenarios.py)
"""
import json
import sys
import time
import traceback
import urllib.request

from selenium import webdriver

from scenarios import SCENARIOS, s_bidi_probe

CD, SHIM, SITE, OUT = sys.argv[1:5]
BIDI = "--bidi" in sys.argv
ONLY = [a.split("=", 1)[1] for a in sys.argv if a.startswith("--only=")]
BASE = f"http://127.0.0.1:{SITE}"
results = []


def mark(name):
    urllib.request.urlopen(f"http://127.0.0.1:{SHIM}/__mark?name={name}").read()


def run(name, fn):
    mark(name)
    t = time.time()
    try:
        val = fn()
        results.append({"scenario": name, "ok": True, "value": repr(val)[:300], "ms": round((time.time() - t) * 1000)})
    except Exception as e:  # noqa: BLE001
        results.append({"scenario": name, "ok": False, "error": f"{type(e).__name__}: {str(e)[:600]}", "ms": round((time.time() - t) * 1000)})
    print(json.dumps(results[-1]), flush=True)


opts = webdriver.ChromeOptions()
opts.debugger_address = f"127.0.0.1:{SHIM}"
if BIDI:
    opts.set_capability("webSocketUrl", True)
mark("new_session")
t0 = time.time()
try:
    driver = webdriver.Remote(command_executor=f"http://127.0.0.1:{CD}", options=opts)
except Exception as e:  # noqa: BLE001
    results.append({"scenario": "new_session", "ok": False, "error": f"{type(e).__name__}: {str(e)[:1500]}"})
    print(json.dumps(results[-1]))
    json.dump(results, open(OUT, "w"), indent=1)
    sys.exit(1)
results.append({"scenario": "new_session", "ok": True, "ms": round((time.time() - t0) * 1000), "caps": driver.capabilities})
print(json.dumps(results[-1], default=str)[:2000], flush=True)
d = driver


scen = [("bidi_probe", s_bidi_probe), *SCENARIOS] if BIDI else SCENARIOS
for name, fn in scen:
    if ONLY and name not in ONLY:
        continue
    run(name, lambda: fn(d, BASE))


def s_quit():
    d.quit()
    return "quit"


run("quit", s_quit)
mark("after_quit")
json.dump(results, open(OUT, "w"), indent=1, default=str)
