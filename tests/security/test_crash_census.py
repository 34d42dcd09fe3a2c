"""The crash census: every method the CDP policy lets through, sent on every target type, and the browser lives.

A tenant's client reaches five kinds of target session (page, frame, dedicated worker, shared worker, service
worker) and the browser channel. For each, every method of the protocol Chromium serves that the policy table
passes or scopes there is sent once, with well-formed parameters (tests/security/census.py), through the real
relay to a real Chromium shared with another tenant's session. After each batch the shared browser must be
the same process, still connected, and the other tenant's session must still answer at the end.

Chromium makes frame targets only for out-of-process iframes; where the browser keeps a cross-site iframe in
its page's process (as headless builds may), there is no frame target to reach and the census says so.
"""

import asyncio
import contextlib
import json
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from tests.conftest import Daemon, make_settings, serve_daemon
from tests.security.census import CENSUS_PARAMS, LAST, CensusSite, Protocol
from tests.security.test_hostile_cdp import Cdp
from tests.support import eventually, serving, url_of
from workers.cdp.policy import POLICY, Action, Channel, TargetType, rule_for

SESSIONS = "/v1/browser/sessions/"
BATCH = 16
ANSWER_SECONDS = 3.0  # a command Chromium never answers (a worker that drops it) is left behind after this
ORDER = (TargetType.SERVICE_WORKER, TargetType.SHARED_WORKER, TargetType.WORKER, TargetType.FRAME, TargetType.PAGE)


@pytest.fixture
async def served(redis_url: str, prefix: str, tmp_path: Path) -> AsyncIterator[Daemon]:
    # One browser, so the census and the bystander share it; no per-connection pacing to wait out.
    settings = make_settings(redis_url, prefix, tmp_path, warm_contexts=0, browsers=1)
    async with serve_daemon(settings) as daemon:
        yield daemon


@pytest.fixture
def census_site() -> Iterator[str]:
    with serving(CensusSite) as server:
        yield url_of(server)


def test_every_passing_method_row_has_a_census_entry() -> None:
    rows = {
        name
        for name, row in POLICY.items()
        if "." in name and (row.browser.action is not Action.REFUSE or row.target.action is not Action.REFUSE)
    }
    assert sorted(rows - set(CENSUS_PARAMS)) == []  # a new method row needs its census entry
    assert sorted(set(CENSUS_PARAMS) - set(POLICY)) == []  # and an entry belongs to a row


async def _send(cdp: Cdp, method: str, params: dict[str, Any], session: str | None) -> dict[str, Any] | None:
    try:
        message_id = await cdp.send(method, params, session)
    except ConnectionClosed:
        return None
    try:
        return await asyncio.wait_for(asyncio.shield(cdp._waiting[message_id]), ANSWER_SECONDS)
    except TimeoutError:
        return None


def _census_of(protocol: Protocol, channel: Channel, target: TargetType) -> list[str]:
    """What the census sends there: every method not refused, the ones that end the target last."""
    sent = [m for m in protocol.methods() if rule_for(m, channel, target).action is not Action.REFUSE]
    return [m for m in sent if m not in LAST] + [m for m in LAST if m in sent]


class Tenant:
    """The census's own session on the census page; started again when a command crashes its own page (a
    renderer is the session's own: the session fails, the shared browser must not)."""

    def __init__(self, served: Daemon, site: str) -> None:
        self.served, self.site = served, site
        self.cdp: Cdp | None = None
        self._stack = contextlib.AsyncExitStack()
        self.restarts = 0

    async def start(self) -> dict[TargetType, str]:
        await self._stack.aclose()
        user = await self.served.user()
        session = await self.served.create(user)
        navigated = await self.served.client.post(
            f"{SESSIONS}{session['session_id']}/navigate", json={"url": self.site + "/"}, headers=user
        )
        assert navigated.status_code == 200, navigated.text
        self.cdp = cdp = await self._stack.enter_async_context(Cdp.open(session["cdp_url"]))

        async def targets() -> dict[TargetType, str]:
            infos = (await cdp.ok("Target.getTargets"))["targetInfos"]
            found = {TargetType.of(info["type"]): info["targetId"] for info in infos}
            return found if set(ORDER) - {TargetType.FRAME} <= set(found) else {}

        return await eventually(targets, timeout=15)

    @property
    def gone(self) -> bool:
        return self.cdp is None or self.cdp._reader.done()

    async def close(self) -> None:
        await self._stack.aclose()


async def test_the_shared_browser_survives_every_passed_method_on_every_target_type(
    served: Daemon, census_site: str
) -> None:
    bystander_user = await served.user()
    bystander = await served.create(bystander_user)
    slot = served.worker.browsers()[0]
    pid = slot.pid
    endpoint = slot.cdp_endpoint().replace("ws://", "http://").split("/devtools/")[0]
    served_protocol = await asyncio.to_thread(lambda: urllib.request.urlopen(endpoint + "/json/protocol").read())
    protocol = Protocol(json.loads(served_protocol))
    for name in POLICY:  # every row names something this Chromium serves, so the census reaches it
        domain, _, method = name.partition(".")
        assert domain in protocol.domains, name
        assert not method or name in protocol.methods(), name

    def browser_lives() -> bool:
        return slot.pid == pid and slot.browser is not None and slot.browser.is_connected()

    tenant = Tenant(served, census_site)
    sent: dict[str, int] = {}
    own_crashes: list[list[str]] = []  # batches that crashed the tenant's own page (allowed: only theirs ends)
    try:
        reachable = await tenant.start()
        for kind in ORDER:
            if kind not in reachable:
                assert kind is TargetType.FRAME, f"no {kind.value} target to census"
                continue
            methods = _census_of(protocol, Channel.TARGET, kind)
            session = None
            for start in range(0, len(methods), BATCH):
                if tenant.gone:
                    reachable, session = await tenant.start(), None
                assert tenant.cdp is not None
                if session is None:
                    attach = {"targetId": reachable[kind], "flatten": True}
                    session = (await tenant.cdp.ok("Target.attachToTarget", attach))["sessionId"]
                batch = methods[start : start + BATCH]
                await asyncio.gather(*(_send(tenant.cdp, m, protocol.params(m), session) for m in batch))
                assert browser_lives(), f"the shared browser died during the census of {kind.value} targets: {batch}"
                if tenant.gone and batch[-1] not in LAST:
                    own_crashes.append(batch)
            sent[kind.value] = len(methods)
        reachable = await tenant.start()
        assert tenant.cdp is not None
        methods = _census_of(protocol, Channel.BROWSER, TargetType.PAGE)
        for method in methods:
            await _send(tenant.cdp, method, protocol.params(method), None)
            assert browser_lives(), method
        sent["browser"] = len(methods)
    finally:
        await tenant.close()

    assert sent["worker"] > 50 and sent["page"] > 300, sent  # the census really sent what the table passes
    assert len(own_crashes) <= 2, own_crashes  # a page that crashes at every other batch is a census gone wrong
    evaluated = await served.client.post(
        f"{SESSIONS}{bystander['session_id']}/evaluate", json={"expression": "1 + 1"}, headers=bystander_user
    )
    assert evaluated.status_code == 200 and evaluated.json()["result"] == 2, evaluated.text
