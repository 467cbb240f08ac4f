"""Settings: defaults, .env files, clear one-line errors, and a token that never shows."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Settings, SettingsError, load_settings
from bot.domain.plan import bundled_plan_path

ALL_ENV = ("DISCORD_TOKEN", "DATABASE_PATH", "DATABASE_URL", "PLAN_PATH", "DEV_GUILD_ID", "LOG_LEVEL",
           "DEFAULT_TIMEZONE")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ALL_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env from the working directory


def test_defaults() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.discord_token is None
    assert settings.database_path == Path("data/stepwise.sqlite3")
    assert settings.plan_path == bundled_plan_path()
    assert settings.dev_guild_id is None
    assert settings.log_level == "INFO"
    assert settings.default_timezone == "UTC"
    assert settings.load_plan().total == 80


def test_reads_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "DISCORD_TOKEN=abc.def.ghi\nDATABASE_PATH=/tmp/x.sqlite3\nDEV_GUILD_ID=1234\n"
        "LOG_LEVEL=debug\nDEFAULT_TIMEZONE=europe/berlin\n",
        encoding="utf-8",
    )
    settings = Settings(_env_file=env_file)  # type: ignore[call-arg]
    assert settings.discord_token is not None
    assert settings.discord_token.get_secret_value() == "abc.def.ghi"
    assert settings.database_path == Path("/tmp/x.sqlite3")
    assert settings.dev_guild_id == 1234
    assert settings.log_level == "DEBUG"
    assert settings.default_timezone == "Europe/Berlin"


def test_environment_overrides_and_empty_guild_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEV_GUILD_ID", "")
    monkeypatch.setenv("DEFAULT_TIMEZONE", "America/New_York")
    settings = load_settings(_env_file=None)
    assert settings.dev_guild_id is None
    assert settings.tz.key == "America/New_York"


def test_token_never_in_repr_or_str() -> None:
    settings = Settings(_env_file=None, discord_token="super-secret-token")  # type: ignore[call-arg]
    assert "super-secret-token" not in repr(settings)
    assert "super-secret-token" not in str(settings)
    assert "super-secret-token" not in str(settings.model_dump())


@pytest.mark.parametrize(
    ("env", "fragments"),
    [
        ({"DEFAULT_TIMEZONE": "Mars/Olympus"}, ["default_timezone", "Mars/Olympus", "Europe/Berlin"]),
        ({"LOG_LEVEL": "LOUD"}, ["log_level", "DEBUG"]),
        ({"DEV_GUILD_ID": "not-a-number"}, ["dev_guild_id"]),
    ],
)
def test_bad_values_give_one_clear_line(monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
                                        fragments: list[str]) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SettingsError) as caught:
        load_settings(_env_file=None)
    message = str(caught.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message


def test_database_path_that_is_a_directory(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="database_path"):
        load_settings(_env_file=None, database_path=tmp_path)


def test_unreadable_or_malformed_plan(tmp_path: Path) -> None:
    missing = Settings(_env_file=None, plan_path=tmp_path / "nope.md")  # type: ignore[call-arg]
    with pytest.raises(SettingsError, match=r"plan_path: cannot read .*nope\.md"):
        missing.load_plan()
    bad = tmp_path / "bad.md"
    bad.write_text("- [ ] 1. A (a)\n- [ ] 3. C (c)\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=r"plan_path: .*line 2: .*step 2 is missing"):
        Settings(_env_file=None, plan_path=bad).load_plan()  # type: ignore[call-arg]


def test_env_example_documents_every_setting() -> None:
    example = (Path(__file__).resolve().parents[1] / ".env.example").read_text(encoding="utf-8")
    for name in Settings.model_fields:
        assert f"{name.upper()}=" in example, f"{name} is not documented in .env.example"


def test_empty_plan_path_means_the_bundled_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAN_PATH", "")
    assert load_settings(_env_file=None).plan_path == bundled_plan_path()
