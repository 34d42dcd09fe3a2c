"""BrowserSlot's own state (reserved, held, ready contexts, lost) and where a worker places a session,
against a real Chromium launched the way the worker launches it."""

import asyncio
import os
import shutil
import signal
import stat
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import async_playwright

from api.schemas import SessionCreate
from orchestrator.models import DEFAULT_SHAPE, DEFAULT_VIEWPORT, ContextShape
from workers.chromium.find import ensure_chromium
from workers.chromium.home import ChromiumHome, sweep_stale
from workers.chromium.launcher import ChromiumLaunch, prepare_launch
from workers.chromium.process_guard import driver_environment
from workers.chromium.user import resolve_user
from workers.pool.placement import least_loaded
from workers.pool.ready_shapes import ReadyShapes
from workers.pool.slot import BrowserSlot, LostBrowser


def test_least_loaded_placement() -> None:
    assert least_loaded([3, 1, 2], capacity=5) == 1
    assert least_loaded([1, 1, 1], capacity=5) == 0
    assert least_loaded([None, 4, 2], capacity=5) == 2
    assert least_loaded([5, 5], capacity=5) is None
    assert least_loaded([None, None], capacity=5) is None
    assert least_loaded([], capacity=5) is None


def test_the_api_default_is_the_shape_slots_prepare() -> None:
    asked_for_nothing = SessionCreate()
    assert (asked_for_nothing.viewport_width, asked_for_nothing.viewport_height) == DEFAULT_VIEWPORT
    assert DEFAULT_SHAPE == ContextShape(viewport_width=DEFAULT_VIEWPORT[0], viewport_height=DEFAULT_VIEWPORT[1])


class Launched:
    """A slot whose browser is up, and what its disconnect callback reported."""

    def __init__(self, slot: BrowserSlot, plan: ChromiumLaunch) -> None:
        self.slot = slot
        self.plan = plan
        self.gone: list[LostBrowser] = []
        self.disconnected = asyncio.Event()

    def on_disconnect(self, slot: BrowserSlot) -> None:
        self.gone.append(slot.lost())
        self.disconnected.set()


@pytest.fixture
async def launched() -> AsyncIterator[Launched]:
    executable = await asyncio.to_thread(ensure_chromium, None)
    plan = await asyncio.to_thread(prepare_launch, executable, resolve_user("auto"), "auto")
    with driver_environment(plan.driver_tmpdir):
        playwright = await async_playwright().start()
    state = Launched(BrowserSlot(index=0, tag=f"test-slot-{os.getpid()}/0"), plan)
    try:
        await state.slot.launch(playwright, plan, state.on_disconnect)
        yield state
    finally:
        await state.slot.shut(timeout=10)
        await playwright.stop()
        plan.home.remove()


async def test_a_reservation_counts_as_load_until_released(launched: Launched) -> None:
    slot = launched.slot
    assert slot.load == 0
    slot.reserve("s1")
    assert slot.load == 1
    assert least_loaded([slot.load, 0], capacity=5) == 1  # the reserved browser is the busier one
    slot.release("s1")
    slot.release("s1")  # releasing twice (a failed open after a lost browser) is harmless
    assert slot.load == 0


async def test_open_takes_a_ready_context_only_of_its_own_shape(launched: Launched) -> None:
    slot = launched.slot
    await slot.warm_up({DEFAULT_SHAPE: 1})
    ready = slot.warm[DEFAULT_SHAPE][0]
    assert ready.context_id is not None  # looked up while warming, not when a client connects
    other = await slot.open("custom", ContextShape(viewport_width=800, viewport_height=600))
    assert other is not ready and slot.warm[DEFAULT_SHAPE] == [ready]
    held = await slot.open("default", DEFAULT_SHAPE)
    assert held is ready and slot.warm[DEFAULT_SHAPE] == []
    assert held.page.viewport_size == {"width": DEFAULT_VIEWPORT[0], "height": DEFAULT_VIEWPORT[1]}
    assert set(slot.sessions) == {"custom", "default"} and slot.load == 2


async def test_ready_contexts_follow_the_shapes_asked_for(launched: Launched) -> None:
    slot, shapes = launched.slot, ReadyShapes(default_count=1, per_learned=1, max_learned=1)
    phone = ContextShape(viewport_width=390, viewport_height=844, user_agent="Phone/1")
    tablet = ContextShape(viewport_width=820, viewport_height=1180)
    assert shapes.asked(phone) and not shapes.asked(phone)  # learned once
    await slot.warm_up(shapes.targets())
    ready_phone = slot.warm[phone][0]
    held = await slot.open("p", phone)
    assert held is ready_phone
    assert await held.page.evaluate("[innerWidth, innerHeight, navigator.userAgent]") == [390, 844, "Phone/1"]
    shapes.asked(tablet)  # only one learned shape is kept: the phone's ready contexts go
    await slot.warm_up(shapes.targets())
    assert phone not in slot.warm and len(slot.warm[tablet]) == 1 and len(slot.warm[DEFAULT_SHAPE]) == 1
    assert not ReadyShapes(default_count=0, per_learned=2, max_learned=4).asked(phone)  # densest: none learned


async def test_a_lost_browser_reports_its_sessions_and_takes_none_until_relaunched(launched: Launched) -> None:
    slot = launched.slot
    await slot.open("a", ContextShape(viewport_width=800, viewport_height=600))
    await slot.open("b", ContextShape(viewport_width=800, viewport_height=600))
    await slot.warm_up({DEFAULT_SHAPE: 1})
    profile = slot.profile_dir
    assert profile is not None and Path(profile).is_dir()
    pid = slot.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    await asyncio.wait_for(launched.disconnected.wait(), 10)
    [gone] = launched.gone
    assert sorted(gone.session_ids) == ["a", "b"]
    assert gone.profile_dir == profile  # for the worker to remove: Playwright leaves it after a crash
    shutil.rmtree(profile, ignore_errors=True)  # Playwright may be removing it too
    assert slot.sessions == {} and slot.warm == {} and slot.profile_dir is None
    assert slot.load is None and slot.restarting
    assert least_loaded([slot.load], capacity=5) is None


async def test_session_directories_are_chromiums_and_private(launched: Launched) -> None:
    slot, user = launched.slot, launched.plan.home.user
    path = Path(slot.session_dir("session-1"))
    info = path.stat()
    assert stat.S_IMODE(info.st_mode) == 0o700
    assert (info.st_uid, info.st_gid) == (user.uid, user.gid)
    assert slot.session_dir("session-1") == str(path)  # a second relay of the session gets the same one
    assert Path(slot.session_dir("session-2")) != path
    with pytest.raises(ValueError):
        slot.session_dir("../../etc")


async def test_chromium_writes_downloads_into_a_session_directory(launched: Launched) -> None:
    slot = launched.slot
    held = await slot.open("downloader", ContextShape(viewport_width=800, viewport_height=600))
    target = Path(slot.session_dir("downloader"))
    behaviour = {"behavior": "allow", "downloadPath": str(target), "browserContextId": await slot.context_id(held)}
    await slot.browser_cdp_send("Browser.setDownloadBehavior", behaviour)
    await held.page.set_content('<a download="note.txt" href="data:text/plain,written by chromium">get</a>')
    await held.page.click("a")
    for _ in range(100):
        if (target / "note.txt").exists():
            break
        await asyncio.sleep(0.05)
    assert (target / "note.txt").read_text() == "written by chromium"
    assert (target / "note.txt").stat().st_uid == launched.plan.home.user.uid


def test_a_dead_workers_directories_are_swept_a_live_ones_are_not() -> None:
    user = resolve_user("auto")
    live, dead = ChromiumHome.create(user), ChromiumHome.create(user)
    try:
        for home in (live, dead):
            os.utime(home.root, (time.time() - 3600, time.time() - 3600))
        os.close(dead._lock)  # what kill -9 does to its owner's lock
        sweep_stale(live.root.parent)
        assert live.root.is_dir() and (live.root / "sessions").is_dir()
        assert not dead.root.exists()
    finally:
        live.remove()
        shutil.rmtree(dead.root, ignore_errors=True)
