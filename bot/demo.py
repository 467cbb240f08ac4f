"""The offline demo: the real bot, unmodified, against SimCord's simulated Discord, in a browser.

`make demo` builds the bot on a throw-away database, seeds a demo server with a
few members (some of them part-way through the plan), and serves SimCord's
channel preview on 127.0.0.1, where a person types slash commands and clicks
buttons. No Discord token is needed and nothing leaves the machine.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import discord

from bot.app import StepwiseBot, create_bot
from bot.community import Cohort
from bot.config import Settings
from bot.progress import Status
from bot.ui.community_views import getting_started_embed
from db.community import set_cohort, set_milestones_channel
from db.progress import StepChange, apply_changes

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoMember:
    name: str
    done: int  # steps 1..done are done, spread over the last weeks
    in_progress: int | None = None
    skipped: tuple[int, ...] = ()
    admin: bool = False


DEMO_MEMBERS = (
    DemoMember("ada", done=0, admin=True),
    DemoMember("grace", done=23, in_progress=24, skipped=(20,)),
    DemoMember("linus", done=12, in_progress=13),
    DemoMember("margaret", done=41),
    DemoMember("ken", done=4),
)


async def seed_progress(bot: StepwiseBot, guild_id: int, user_id: int, member: DemoMember, now: datetime) -> None:
    """Give a demo member a believable history: steps done over the past weeks, a few per day."""
    changes: list[StepChange] = []
    days = max(1, member.done // 2)
    for index, number in enumerate(range(1, member.done + 1)):
        if number in member.skipped:
            changes.append(StepChange(number, Status.SKIPPED))
            continue
        when = now - timedelta(days=days - index * days / max(member.done, 1), hours=index % 5)
        changes.append(StepChange(number, Status.DONE, done_at=when))
    if member.in_progress:
        changes.append(StepChange(member.in_progress, Status.IN_PROGRESS))
    if changes:
        await apply_changes(bot.db, guild_id, user_id, changes, now, default_tz=bot.settings.tz, record_history=False)


async def build_world(env: Any, bot: StepwiseBot) -> tuple[Any, Any, list[Any]]:
    """The demo server: #study, a Moderators role for the admin, and the demo members with progress."""
    guild = env.create_guild("Stepwise Demo")
    channel = guild.create_text_channel("study")
    mods = guild.create_role("Moderators", permissions=discord.Permissions(manage_guild=True, manage_roles=True))
    members = []
    now = env.now()  # the simulated clock (the bot reads the same one while it handles commands)
    for spec in DEMO_MEMBERS:
        member = guild.add_member(env.create_user(spec.name), roles=[mods] if spec.admin else [])
        members.append(member)
        await seed_progress(bot, guild.id, member.id, spec, now)
    await configure_server(bot, guild.id, channel.id, now)
    await env.settle()
    text_channel = bot.get_channel(channel.id)
    if isinstance(text_channel, discord.TextChannel):  # what a server sees when the bot joins
        await text_channel.send(embed=getting_started_embed(bot.plan))
    await env.settle()
    return guild, channel, members


async def configure_server(bot: StepwiseBot, guild_id: int, channel_id: int, now: datetime) -> None:
    """What an admin would set with /config: milestones announced in #study and a cohort that began
    three weeks ago at four steps a week, so /progress and /config show have something to say."""
    await set_milestones_channel(bot.db, guild_id, channel_id)
    await set_cohort(bot.db, guild_id, Cohort(now.date() - timedelta(weeks=3), 4))


async def run_demo(settings: Settings, *, port: int, wait: bool = True) -> None:
    try:
        import simcord
    except ImportError as error:  # pragma: no cover - `make demo` installs it
        raise SystemExit("the demo needs SimCord: run `make demo`, which installs it") from error

    for noisy in ("discord.state", "discord.client", "discord.gateway"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="stepwise-demo-") as tmp:
        demo_settings = settings.model_copy(update={"database_path": Path(tmp) / "demo.sqlite3",
                                                    "dev_guild_id": None, "shard_count": None, "shard_ids": None})
        bot = create_bot(demo_settings)
        env = simcord.Env(bot, check_errors=False, shard_count=1)  # one shard: Discord would say how many
        await env.start()
        try:
            _guild, channel, members = await build_world(env, bot)
            async with env.preview(channel, viewers=members, layout="channel", port=port) as preview:
                print_banner(preview.url, port, [m.name for m in members])
                if wait:
                    await preview.wait_closed()
        finally:
            with contextlib.suppress(Exception):
                await env.shutdown()
            await bot.close()


def print_banner(url: str, port: int, names: list[str]) -> None:
    lines = [
        "",
        "Stepwise demo is running: the real bot against a simulated Discord, offline.",
        f"  Open: {url}",
        f"  Over SSH: ssh -L {port}:127.0.0.1:{port} <this-host>, then open the same URL on your machine.",
        f"  Members you can act as ('Viewing as'): {', '.join(names)} (ada is an admin).",
        "  Type / in the message box: try /plan step 57, /progress, /leaderboard, /done, /help.",
        "  The URL carries a secret after '#': keep it private. Stop with Ctrl+C or 'End preview session'.",
        "",
    ]
    print("\n".join(lines), flush=True)
