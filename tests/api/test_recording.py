"""A recorded session: a WebM of its pages, as long as the session lived, served once the session has ended."""

import asyncio
import json
import shutil
import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect

from orchestrator.config import Settings
from tests.api.files_site import COLOURS, files_site
from tests.conftest import Daemon, serve_daemon
from tests.support import eventually

SESSIONS = "/v1/browser/sessions/"


@pytest.fixture(scope="module")
def files_url() -> Iterator[str]:
    with files_site() as url:
        yield url


def _tool(name: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} (Debian's ffmpeg) is installed by make setup"
    return found


def _duration(video: Path) -> float:
    probe = [_tool("ffprobe"), "-v", "error", "-show_entries", "format=duration", "-of", "json", str(video)]
    return float(json.loads(subprocess.run(probe, capture_output=True, check=True).stdout)["format"]["duration"])


def _colour_sequence(video: Path) -> list[str]:
    """The named colour (or "other") of each frame, 5 a second, consecutive repeats dropped."""
    decode = [_tool("ffmpeg"), "-v", "error", "-i", str(video), "-vf", "fps=5,scale=8:8", "-f", "rawvideo"]
    raw = subprocess.run([*decode, "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    names: list[str] = []
    for offset in range(0, len(raw), 8 * 8 * 3):
        r, g, b = (raw[offset + 4 * 8 * 3 + 4 * 3 + i] for i in range(3))  # the pixel at (4, 4): the middle
        name = next(
            (n for n, c in COLOURS.items() if all(abs(x - y) < 60 for x, y in zip((r, g, b), c, strict=True))), "other"
        )
        if not names or names[-1] != name:
            names.append(name)
    return names


def _moment(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


async def test_a_recorded_session_yields_a_video_of_its_pages_as_long_as_it_lived(
    daemon: Daemon, files_url: str, tmp_path: Path
) -> None:
    me, other = await daemon.user(), await daemon.user()
    created = await daemon.create(me, record=True, viewport_width=640, viewport_height=360)
    sid = created["session_id"]
    assert created["recording_url"].endswith(f"{SESSIONS}{sid}/recording")
    early = await daemon.client.get(f"{SESSIONS}{sid}/recording", headers=me)
    assert early.status_code == 409 and "still being recorded" in early.text
    for colour in COLOURS:
        answer = await daemon.client.post(
            f"{SESSIONS}{sid}/navigate", json={"url": f"{files_url}/{colour}"}, headers=me
        )
        assert answer.status_code == 200
        await asyncio.sleep(1.2)
    assert (await daemon.client.delete(f"{SESSIONS}{sid}", headers=me)).status_code == 204

    async def finished() -> bytes | None:
        answer = await daemon.client.get(f"{SESSIONS}{sid}/recording", headers=me)
        assert answer.status_code in (200, 409), answer.text
        return answer.content if answer.status_code == 200 else None

    video = tmp_path / "session.webm"
    video.write_bytes(await eventually(finished, timeout=20))
    assert video.read_bytes()[:4] == b"\x1a\x45\xdf\xa3"  # EBML: a WebM/Matroska file
    detail = (await daemon.client.get(f"{SESSIONS}{sid}", headers=me)).json()
    lived = _moment(detail["ended_at"]) - _moment(detail["created_at"])
    assert abs(await asyncio.to_thread(_duration, video) - lived) < 1.0, (lived, _duration(video))
    colours = [c for c in await asyncio.to_thread(_colour_sequence, video) if c != "other"]
    assert colours == list(COLOURS), colours
    assert (await daemon.client.get(f"{SESSIONS}{sid}/recording", headers=other)).status_code == 404


async def test_an_unrecorded_session_has_no_recording(daemon: Daemon) -> None:
    me = await daemon.user()
    created = await daemon.create(me)
    assert created["recording_url"] is None
    answer = await daemon.client.get(f"{SESSIONS}{created['session_id']}/recording", headers=me)
    assert answer.status_code == 404 and "not recorded" in answer.text


async def _watch(cdp_url: str, frames: list[int]) -> None:
    """A live viewer (view mode, as the dashboard's): screencast the session's page, acknowledge every frame."""
    async with connect(cdp_url + "&mode=view", max_size=None) as socket:

        async def call(i: int, method: str, params: dict[str, Any], session: str | None = None) -> None:
            message = {"id": i, "method": method, "params": params}
            await socket.send(json.dumps({**message, "sessionId": session} if session else message))

        async def answer_of(i: int) -> dict[str, Any]:
            while (message := json.loads(await socket.recv())).get("id") != i:
                pass
            return dict(message)

        async def answer(i: int) -> dict[str, Any]:
            return dict((await answer_of(i))["result"])

        await call(1, "Target.getTargets", {})
        page = (await answer(1))["targetInfos"][0]["targetId"]
        await call(2, "Target.attachToTarget", {"targetId": page, "flatten": True})
        session = (await answer(2))["sessionId"]
        await call(3, "Page.startScreencast", {"format": "jpeg", "maxWidth": 320, "maxHeight": 180}, session)
        assert "result" in await answer_of(3)
        async for raw in socket:
            message = json.loads(raw)
            if message.get("method") == "Page.screencastFrame":
                frames.append(len(message["params"]["data"]))
                await call(4, "Page.screencastFrameAck", {"sessionId": message["params"]["sessionId"]}, session)


async def test_a_recorded_session_with_a_profile_and_a_live_viewer_keeps_all_three(
    daemon_settings: Settings, files_url: str, tmp_path: Path
) -> None:
    """Where the features meet: a live viewer's screencast beside the recorder's, and at the end the video
    finished, the profile saved while the context was still open, the files kept."""
    async with serve_daemon(daemon_settings) as daemon:  # on a real port: the viewer's websocket
        me = await daemon.user()
        profile = {"name": "recorded", "persist": True}
        created = await daemon.create(me, record=True, viewport_width=640, viewport_height=360, profile=profile)
        sid = created["session_id"]
        frames: list[int] = []
        viewer = asyncio.create_task(_watch(created["cdp_url"], frames))

        async def watching() -> bool:
            return bool(frames)

        await eventually(watching, timeout=10)  # its first frame before the first navigation (a screencast
        # started on a page mid-navigation is refused: "Not attached to an active page")
        for colour in COLOURS:
            answer = await daemon.client.post(
                f"{SESSIONS}{sid}/navigate", json={"url": f"{files_url}/{colour}"}, headers=me
            )
            assert answer.status_code == 200
            await asyncio.sleep(1.2)
        cookie = {"expression": "document.cookie = 'seen=blue; max-age=3600'"}
        assert (await daemon.client.post(f"{SESSIONS}{sid}/evaluate", json=cookie, headers=me)).status_code == 200
        assert (await daemon.client.delete(f"{SESSIONS}{sid}", headers=me)).status_code == 204
        await asyncio.wait_for(viewer, 10)  # the session's end closes the viewer's connection
        assert len(frames) > len(COLOURS), frames  # the first, and at least one of each page

        async def finished() -> bytes | None:
            answer = await daemon.client.get(f"{SESSIONS}{sid}/recording", headers=me)
            return answer.content if answer.status_code == 200 else None

        video = tmp_path / "session.webm"
        video.write_bytes(await eventually(finished, timeout=20))
        colours = [c for c in await asyncio.to_thread(_colour_sequence, video) if c != "other"]
        assert colours == list(COLOURS), colours
        detail = (await daemon.client.get(f"{SESSIONS}{sid}", headers=me)).json()
        assert detail["profile_save"] == "saved", detail
        state = (await daemon.client.get("/v1/profiles/recorded/state", headers=me)).json()
        assert [(c["name"], c["value"]) for c in state["cookies"]] == [("seen", "blue")]
