"""The worker: everything that owns browsers, and the only package that imports Playwright.

- `local/`: LocalWorker, the worker of this process (opens and closes sessions, runs their actions, contains
  crashes).
- `pool/`: the browsers it holds (BrowserSlot), where a session goes, ready contexts and ready browsers.
- `pages/`: what acts on one session's page: bounds, watchdog, checkpoints, evaluate, profile restore.
- `files/`: downloads, uploads, recordings and the per-session disk quota.
- `session.py`: SessionPage, the one record of a held session every part above takes.
- `cdp/`: the CDP relay and its policy table (`cdp/policy.py`), scope, limits and live viewer.
- `egress/`: the egress guard every request of every context leaves through.
- `chromium/`: finding, launching and confining Chromium (its own user, sandbox, process guard).
- `agent.py`: the worker's part in the cluster (registry, heartbeat, drain), over Redis.
- `webdriver/`: a WebDriver session's chromedriver and the loopback discovery door it attaches through (the
  session's CDP relay, so the one policy table); API nodes run it, and it imports no Playwright.
- `remote/`: the worker's internal HTTP API (`server.py`), the RemoteWorker client API nodes use
  (`client.py`) and their wire format; it imports no Playwright.
- `factory.py`: builds the local worker and its agent from the settings.

Dependencies go one way: factory > remote | agent | webdriver > local > pool > pages > files > session >
cdp | egress | chromium (pyproject's import-linter contracts enforce it; nothing here imports `api`).
"""
