"""Settings read from the environment and `.env` (pydantic-settings)."""

from __future__ import annotations

import logging
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.domain.plan import Plan, PlanError, bundled_plan_path, load_plan
from bot.domain.timeutil import resolve_timezone

LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")


class SettingsError(RuntimeError):
    """Start-up cannot go on: one line naming the setting and what is wrong."""


class Settings(BaseSettings):
    """Every setting has an environment variable of the same name in capitals (e.g. DATABASE_PATH)."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    discord_token: SecretStr | None = Field(default=None, description="Bot token from the Discord developer portal")
    database_path: Path = Field(default=Path("data/stepwise.sqlite3"))
    plan_path: Path = Field(default_factory=bundled_plan_path)
    dev_guild_id: int | None = Field(default=None, description="Sync commands to this server only (instant)")
    log_level: str = "INFO"
    default_timezone: str = "UTC"
    members_intent: bool = Field(default=False, description="Request the privileged Server Members intent, so a "
                                 "member who leaves is paused at once (turn it on in the developer portal too)")

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        upper = value.strip().upper()
        if upper not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return upper

    @field_validator("default_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return resolve_timezone(value).key

    @field_validator("database_path")
    @classmethod
    def _db_path(cls, value: Path) -> Path:
        if str(value) == ":memory:":
            return value
        if value.exists() and value.is_dir():
            raise ValueError(f"{value} is a directory; give a file path such as data/stepwise.sqlite3")
        return value

    @field_validator("plan_path", mode="before")
    @classmethod
    def _empty_plan(cls, value: object) -> object:
        return bundled_plan_path() if value in ("", None) else value

    @field_validator("dev_guild_id", mode="before")
    @classmethod
    def _empty_guild(cls, value: object) -> object:
        return None if value in ("", None) else value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.default_timezone)

    @property
    def log_level_number(self) -> int:
        return int(logging.getLevelName(self.log_level))

    def load_plan(self) -> Plan:
        """The configured plan, or SettingsError naming plan_path and the problem."""
        try:
            return load_plan(self.plan_path)
        except OSError as error:
            raise SettingsError(f"plan_path: cannot read {self.plan_path}: {error.strerror or error}") from None
        except PlanError as error:
            raise SettingsError(f"plan_path: {self.plan_path} is not a valid plan: {error}") from None


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment and .env; SettingsError with one clear line on a bad value."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        first = error.errors()[0]
        name = ".".join(str(part) for part in first["loc"]) or "settings"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise SettingsError(f"{name} (env {name.upper()}): {message}") from None
