"""Fixtures of the worker tests."""

from pathlib import Path

import pytest


@pytest.fixture
def files_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "session-files"
    directory.mkdir()
    (directory / "upload.txt").write_text("mine")
    return directory
