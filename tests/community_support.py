"""Set-up shared by the community behaviour tests: progress through the real write path, an admin member."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import datetime, timedelta

import discord
import simcord
from sqlalchemy import update

from bot.domain.progress import Status
from db.progress import ChangeResult, StepChange, apply_changes
from db.tables import members
from tests.conftest import World
from tests.helpers import bot_of


async def mark_done(env: simcord.Env, guild_id: int, user_id: int, steps: Iterable[int], at: datetime,
                    *, dispatch: bool = False) -> ChangeResult:
    """Mark steps done at `at` (a minute apart) as /done does, and optionally announce it as /done will."""
    bot = bot_of(env)
    changes = [StepChange(n, Status.DONE, done_at=at + timedelta(minutes=i)) for i, n in enumerate(steps)]
    result = await apply_changes(bot.db, guild_id, user_id, changes, at, default_tz=bot.settings.tz)
    if dispatch:
        await dispatch_progress(env, guild_id, user_id, result)
    return result


async def dispatch_progress(env: simcord.Env, guild_id: int, user_id: int, result: ChangeResult) -> None:
    """`bot.dispatch("progress_changed", ...)` as the progress commands do, then wait for the listeners.

    SimCord settles the work it started itself; a dispatch from test code runs in discord.py's own
    event tasks, so wait for those by name before settling what they caused.
    """
    before = set(asyncio.all_tasks())
    bot_of(env).dispatch("progress_changed", guild_id, user_id, result)
    started = [t for t in asyncio.all_tasks() - before if t.get_name() == "discord.py: on_progress_changed"]
    assert started, "no on_progress_changed listener is registered"
    await asyncio.gather(*started)
    await env.settle()


async def set_visible(env: simcord.Env, guild_id: int, user_id: int, visible: bool) -> None:
    """What `/data privacy` (issue 3) stores: the member's choice, which members.visible follows (0008)."""
    async with bot_of(env).db.transaction() as conn:
        await conn.execute(update(members).where(members.c.guild_id == guild_id, members.c.user_id == user_id)
                           .values(visible_choice=int(visible)))


def add_admin(env: simcord.Env, world: World, name: str = "ada") -> simcord.MemberActor:
    role = world.guild.create_role("Moderators", permissions=discord.Permissions(manage_guild=True))
    return world.guild.add_member(env.create_user(name), roles=[role])
