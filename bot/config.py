"""Settings read from the environment and `.env` (pydantic-settings)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.domain.plan import Plan, PlanError, bundled_plan_path, load_plan
from bot.domain.sharding import MAX_SHARDS, Ownership, ShardSpecError, check_shard_ids, parse_shard_ids
from bot.domain.timeutil import resolve_timezone

LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")


class SettingsError(RuntimeError):
    """Start-up cannot go on: one line naming the setting and what is wrong."""


class Settings(BaseSettings):
    """Every setting has an environment variable of the same name in capitals (e.g. DATABASE_PATH)."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    discord_token: SecretStr | None = Field(default=None, description="Bot token from the Discord developer portal")
    database_path: Path = Field(default=Path("data/stepwise.sqlite3"))
    database_url: SecretStr | None = Field(default=None, description="sqlite:///path or postgresql+asyncpg://user:"
                                           "password@host/database; when unset, the SQLite file DATABASE_PATH")
    plan_path: Path = Field(default_factory=bundled_plan_path)
    dev_guild_id: int | None = Field(default=None, description="Sync commands to this server only (instant)")
    log_level: str = "INFO"
    default_timezone: str = "UTC"
    members_intent: bool = Field(default=False, description="Request the privileged Server Members intent, so a "
                                 "member who leaves is paused at once (turn it on in the developer portal too)")
    # Sharding (bot.sharding). Neither set: one process runs every shard Discord recommends. SHARD_COUNT alone:
    # one process runs all of that many shards. Both: this process runs SHARD_IDS (e.g. "0-3" or "0,2,5") of
    # SHARD_COUNT, and does the scheduled work of those shards' servers only.
    shard_count: int | None = Field(default=None, description="The total number of shards across all processes")
    shard_ids: Annotated[tuple[int, ...] | None, NoDecode] = Field(
        default=None, description="The shards this process runs, e.g. 0-3 or 0,2,5 (needs SHARD_COUNT)")

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

    @field_validator("database_url", mode="before")
    @classmethod
    def _url(cls, value: object) -> object:
        """Empty: unset. Otherwise the URL the store will use (a SecretStr: it may hold a password)."""
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not isinstance(value, str):
            return value  # pydantic says what it expected
        from db.database import DatabaseError, database_url  # lazy: settings load before the store is needed

        try:
            return database_url(value.strip()).render_as_string(hide_password=False)
        except DatabaseError as error:
            raise ValueError(str(error)) from None

    @field_validator("plan_path", mode="before")
    @classmethod
    def _empty_plan(cls, value: object) -> object:
        return bundled_plan_path() if value in ("", None) else value

    @field_validator("dev_guild_id", mode="before")
    @classmethod
    def _empty_guild(cls, value: object) -> object:
        return None if value in ("", None) else value

    @field_validator("shard_count", mode="before")
    @classmethod
    def _empty_count(cls, value: object) -> object:
        return None if value in ("", None) else value

    @field_validator("shard_count")
    @classmethod
    def _count(cls, value: int | None) -> int | None:
        if value is not None and not 1 <= value <= MAX_SHARDS:
            raise ValueError(f"must be a whole number from 1 to {MAX_SHARDS}, not {value}")
        return value

    @field_validator("shard_ids", mode="before")
    @classmethod
    def _parse_ids(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        try:
            if isinstance(value, str):
                return parse_shard_ids(value)
            if isinstance(value, int):
                return check_shard_ids([value])
            if isinstance(value, list | tuple | set | frozenset):
                return check_shard_ids(value)
        except ShardSpecError as error:
            raise ValueError(str(error)) from None
        return value  # anything else: pydantic says what it expected

    @field_validator("shard_ids")
    @classmethod
    def _ids_fit_count(cls, value: tuple[int, ...] | None, info: ValidationInfo) -> tuple[int, ...] | None:
        if value is None or "shard_count" not in info.data:  # a bad shard_count is reported on its own
            return value
        count = info.data["shard_count"]
        try:
            Ownership(count, value)
        except ShardSpecError as error:
            if count is None:
                raise ValueError("needs SHARD_COUNT too: the total number of shards across all processes "
                                 "(e.g. SHARD_IDS=0-3 SHARD_COUNT=8)") from None
            raise ValueError(str(error)) from None
        return value

    @property
    def ownership(self) -> Ownership:
        """The shards this process runs, and so the servers whose scheduled work it does."""
        return Ownership(self.shard_count, self.shard_ids)

    @property
    def database_target(self) -> str | Path:
        """What the store opens: DATABASE_URL when set, else the SQLite file DATABASE_PATH."""
        return self.database_url.get_secret_value() if self.database_url is not None else self.database_path

    @property
    def database_setting(self) -> str:
        """The setting that names the database, for messages: 'database_url (env DATABASE_URL)' or the path's."""
        if self.database_url is not None:
            return "database_url (env DATABASE_URL)"
        return "database_path (env DATABASE_PATH)"

    @property
    def database_engine(self) -> Literal["sqlite", "postgresql"]:
        """The store's engine: from DATABASE_URL, else SQLite (DATABASE_PATH)."""
        if self.database_url is not None and not self.database_url.get_secret_value().startswith("sqlite"):
            return "postgresql"
        return "sqlite"

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
        flag = f", --{name.replace('_', '-')}" if name in CLI_FLAGS else ""
        raise SettingsError(f"{name} (env {name.upper()}{flag}): {message}") from None


CLI_FLAGS = ("shard_ids", "shard_count")  # settings `python -m bot run` also takes as --shard-ids, --shard-count
