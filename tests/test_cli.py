"""`python -m bot`: check-plan output, and start-up refusing clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.__main__ import main
from bot.domain.plan import bundled_plan_path


def test_check_plan_prints_phases_and_steps(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-plan", str(bundled_plan_path())]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Backend Learning Plan: 80 steps in 19 phases")
    assert "## 1. Foundations: the web and your tools (steps 1–4)" in out
    assert " 57. Security advanced topics (OWASP Top 10)" in out
    assert "exercise: Protect API against common attacks (SQLi, XSS, CSRF)" in out


def test_check_plan_reports_errors_with_line_numbers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "plan.md"
    bad.write_text("# Plan\n- [ ] 1. A (a)\n- [ ] 1. B (b)\nhello\n", encoding="utf-8")
    assert main(["check-plan", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "2 problem(s)" in err
    assert "line 3: step 1 is a duplicate (first on line 2)" in err
    assert "line 4: not a step line" in err


def test_check_plan_on_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-plan", str(tmp_path / "missing.md")]) == 1
    assert "cannot read" in capsys.readouterr().err


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("DISCORD_TOKEN", "DATABASE_PATH", "DATABASE_URL", "PLAN_PATH", "DEV_GUILD_ID", "LOG_LEVEL",
                 "DEFAULT_TIMEZONE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_PATH", str(tmp_path / "db.sqlite3"))


@pytest.mark.usefixtures("clean_env")
def test_run_without_a_token_refuses_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "discord_token" in err
    assert "Traceback" not in err


@pytest.mark.usefixtures("clean_env")
def test_bad_settings_stop_start_up_in_one_line(monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DEFAULT_TIMEZONE", "Nowhere/Special")
    assert main(["run"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("stepwise: cannot start: default_timezone (env DEFAULT_TIMEZONE): `Nowhere/Special` is not a "
                   "time zone I know. Use an IANA name such as `Europe/Berlin`, `America/New_York` or `UTC` "
                   "(start typing and pick one from the list).")


@pytest.mark.usefixtures("clean_env")
def test_a_bad_plan_path_stops_start_up(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PLAN_PATH", str(tmp_path / "nope.md"))
    assert main(["demo", "--no-wait"]) == 2
    assert "plan_path: cannot read" in capsys.readouterr().err


@pytest.mark.usefixtures("clean_env")
def test_demo_sets_up_and_prints_the_url(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--no-wait", "--port", "0"]) == 0
    out = capsys.readouterr().out
    assert "http://127.0.0.1:" in out
    assert "/plan step 57" in out


@pytest.mark.usefixtures("clean_env")
def test_a_database_newer_than_the_code_stops_start_up_before_connecting(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import sqlite3

    path = tmp_path / "future.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 999")
    monkeypatch.setenv("DATABASE_PATH", str(path))
    monkeypatch.setenv("DISCORD_TOKEN", "not-a-real-token")
    assert main(["run"]) == 2
    err = capsys.readouterr().err.strip()
    assert "database_path" in err
    assert "schema version 999, newer than this code" in err
    assert "not-a-real-token" not in err
