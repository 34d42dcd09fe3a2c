"""The worker's file store on disk: what the sweep keeps, stamps and removes (no browser needed)."""

import time
from pathlib import Path

from orchestrator.files import DownloadState
from workers.files.session_files import SessionFiles, numbered, safe_name
from workers.files.store import FileStore


def _ended(store: FileStore, session_id: str, ended_at: float | None) -> SessionFiles:
    files = SessionFiles(session_id, store.entry(session_id), None)
    files.make_entry()
    files.ended_at = ended_at
    files.save()
    return files


def test_the_sweep_removes_what_is_past_its_retention_and_stamps_what_a_dead_run_left(tmp_path: Path) -> None:
    store = FileStore.for_worker(tmp_path, "host-8000", retention=60)
    store.prepare()
    now = time.time()
    _ended(store, "old", now - 61)
    _ended(store, "recent", now - 30)
    orphan = _ended(store, "orphan", None)  # a run killed while this session was live
    orphan.recording_partial.write_bytes(b"half a video")
    live = _ended(store, "live", None)

    assert store.sweep(live={"live"}, now=now) == 1
    assert not store.entry("old").exists() and store.entry("recent").exists()
    stamped = store.retained("orphan")
    assert stamped is not None and stamped.ended_at == now and not orphan.recording_partial.exists()
    assert SessionFiles.load(live.entry) is not None and store.retained("live").ended_at is None  # type: ignore[union-attr]
    assert store.sweep(live=set(), now=now + 61) == 2  # the orphan, stamped at the first sweep, and "recent"
    assert sorted(p.name for p in store.root.iterdir()) == ["live"]
    assert store.root.stat().st_mode & 0o777 == 0o700


def test_retaining_moves_the_live_directory_and_fails_what_was_still_downloading(tmp_path: Path) -> None:
    store = FileStore.for_worker(tmp_path / "state", "w/../1", retention=60)
    store.prepare()
    assert store.root.parent == tmp_path / "state" / "files"
    assert (tmp_path / "state").stat().st_mode & 0o777 == 0o700  # made here: the daemon's alone
    live = tmp_path / "live"
    live.mkdir()
    (live / "g1").write_bytes(b"done")
    (live / "g2.crdownload").write_bytes(b"half")
    files = SessionFiles("s1", store.entry("s1"), live)
    files.began("g1", "http://x/a", "../../a.txt")
    files.began("g2", "http://x/b", "a.txt")
    files.progressed("g1", "completed", 4)
    store.retain(files)
    assert not live.exists() and files.download_path("a.txt") == store.entry("s1") / "session" / "g1"
    kept = store.retained("s1")
    assert kept is not None
    assert [(d.name, d.state, d.size_bytes) for d in kept.infos()] == [
        ("a.txt", DownloadState.COMPLETE, 4),
        ("a (1).txt", DownloadState.FAILED, 0),
    ]
    assert not (store.entry("s1") / "session" / "g2.crdownload").exists()


def test_names_are_only_names() -> None:
    assert safe_name("../../etc/passwd") == "passwd"
    assert safe_name("..\\x\\.bashrc") == "bashrc"
    assert safe_name("a\x00b\nc") == "a_b_c"
    assert safe_name("") == "download" and safe_name("...") == "download"
    assert len(safe_name("x" * 300 + ".pdf")) == 200 and safe_name("x" * 300 + ".pdf").endswith(".pdf")
    assert numbered("r.pdf", {"r.pdf", "r (1).pdf"}) == "r (2).pdf"
    assert numbered("README", {"README"}) == "README (1)"
