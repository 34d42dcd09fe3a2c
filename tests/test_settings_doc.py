"""The settings users read (docs/configuration.md's table, `browserpool serve --help`) come from Settings itself."""

import subprocess
import sys

from browserpool.settings_doc import PAGE, main, rendered
from orchestrator.config import Settings
from orchestrator.config_help import DESCRIPTIONS


def test_every_setting_has_a_meaning_and_no_meaning_outlives_its_setting() -> None:
    assert set(DESCRIPTIONS) == set(Settings.model_fields)
    assert all(meaning.strip() for meaning in DESCRIPTIONS.values())


def test_the_configuration_page_shows_the_table_settings_give() -> None:
    page = PAGE.read_text()
    assert rendered(page) == page, "docs/configuration.md is out of date: run `make docs`"
    assert main(["--check"]) == 0
    for field in Settings.model_fields:
        assert f"`BROWSERPOOL_{field.upper()}`" in page


def test_a_drifted_table_is_caught(tmp_path, monkeypatch) -> None:
    page = PAGE.read_text().replace("| `BROWSERPOOL_PORT` | `8000` |", "| `BROWSERPOOL_PORT` | `8080` |")
    drifted = tmp_path / "configuration.md"
    drifted.write_text(page)
    monkeypatch.setattr("browserpool.settings_doc.PAGE", drifted)
    assert main(["--check"]) == 1


def test_serve_help_lists_the_settings_with_their_environment_names_and_defaults() -> None:
    for command in ("serve", "api", "worker", "users", "doctor"):
        shown = subprocess.run(
            [sys.executable, "-m", "browserpool", command, "--help"], capture_output=True, text=True, check=True
        ).stdout
        assert "BROWSERPOOL_PORT=8000" in shown, command
        assert "BROWSERPOOL_REDIS_URL=unset" in shown
        assert "BROWSERPOOL_STATE_DIR=" in shown
        assert "the port the API listens on" in shown
