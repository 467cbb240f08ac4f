"""Things the bot posts on its own: scheduled leaderboards, milestones (and their roles), the getting-started note.

Nothing here raises at a member: a post or role that fails is logged and recorded for `/config show`.
"""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

import discord
from discord.ext import commands

from bot.app import StepwiseBot
from bot.community import SlotDecision, due_slots, period_storage_key, previous_week_key
from bot.progress import completions
from bot.timeutil import local_date
from bot.ui.community_views import getting_started_embed, milestone_text, missing_send, scheduled_post_embed
from db.community import (
    DuePost,
    claim_slot,
    due_posts,
    get_settings,
    on_pace,
    record_failure,
    record_posted,
    top,
)
from db.progress import ChangeResult
from db.settings import get_guild_timezone

log = logging.getLogger(__name__)
JOB = "community-leaderboard-posts"


class Announcements(commands.Cog):
    """Scheduled leaderboard posts, milestone announcements and roles, and the hello on joining a server."""

    def __init__(self, bot: StepwiseBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.add_scheduled_job(JOB, self.post_due_leaderboards)

    async def cog_unload(self) -> None:
        self.bot.remove_scheduled_job(JOB)

    # ------------------------------------------------------------------ scheduled leaderboard posts

    async def post_due_leaderboards(self, now: datetime) -> None:
        """Handle every server whose next slot is due at `now`: each slot is claimed in the database first,
        so it is posted at most once however often (and by however many restarts) this runs."""
        for due in await due_posts(self.bot.db, now):
            try:
                await self._handle(due, now)
            except Exception:
                log.exception("leaderboard post for guild %s at %s failed", due.guild_id, now.isoformat())

    async def _handle(self, due: DuePost, now: datetime) -> None:
        tz = await get_guild_timezone(self.bot.db, due.guild_id, self.bot.settings.tz)
        decision = due_slots(due.next_slot, now, due.schedule, tz)
        if decision is None or not await claim_slot(self.bot.db, due.guild_id, due.next_slot, decision.post,
                                                    decision.next):
            return
        if decision.post is None:
            log.info("guild %s: skipped %d leaderboard slot(s) older than the late limit", due.guild_id,
                     decision.skipped)
            return
        problem = await self._post(due, decision, now, tz)
        if problem is None:
            await record_posted(self.bot.db, due.guild_id, now)
        else:
            log.warning("guild %s: leaderboard post failed: %s", due.guild_id, problem)
            await record_failure(self.bot.db, due.guild_id, "leaderboard_post", now, problem)

    async def _post(self, due: DuePost, decision: SlotDecision, now: datetime, tz: ZoneInfo) -> str | None:
        """Send the post; the problem (for /config show) when it cannot be sent."""
        guild = self.bot.get_guild(due.guild_id)
        channel = guild.get_channel(due.channel_id) if guild and due.channel_id else None
        if guild is None or not isinstance(channel, discord.TextChannel):
            return "The leaderboard channel no longer exists. Pick another with `/config leaderboard`."
        missing = missing_send(channel, guild.me)
        if missing:
            return f"I am missing {', '.join(missing)} in {channel.mention}."
        slot = decision.post or now
        rows = await top(self.bot.db, due.guild_id, None, 10)
        movers = await top(self.bot.db, due.guild_id, period_storage_key(slot, tz, "week"), 5)
        label = "this week"
        if not movers:
            movers, label = await top(self.bot.db, due.guild_id, previous_week_key(slot, tz), 5), "last week"
        settings = await get_settings(self.bot.db, due.guild_id)
        cohort_line = None
        if settings.cohort:
            expected = settings.cohort.expected(local_date(slot, tz), self.bot.plan.total)
            ahead, members = await on_pace(self.bot.db, due.guild_id, expected)
            cohort_line = (f"**{ahead}** of {members} members are on pace or ahead "
                           f"(at least {expected} step{'' if expected == 1 else 's'} by today).")
        embed = scheduled_post_embed(rows, movers, label, cohort_line=cohort_line, slot=slot, late=decision.late)
        try:
            await channel.send(embed=embed)
        except discord.Forbidden as error:
            return f"Discord refused the post in {channel.mention}: {error.text or 'missing permission'}."
        except discord.HTTPException as error:
            return f"Posting in {channel.mention} failed ({error.status}): {error.text or 'no detail'}."
        return None

    # ------------------------------------------------------------------ milestones

    @commands.Cog.listener()
    async def on_progress_changed(self, guild_id: int, user_id: int, result: ChangeResult) -> None:
        try:
            await self._celebrate(guild_id, user_id, result)
        except Exception:
            log.exception("milestones for user %s in guild %s failed", user_id, guild_id)

    async def _celebrate(self, guild_id: int, user_id: int, result: ChangeResult) -> None:
        plan = self.bot.plan
        done = completions(plan, result.before.done, result.after.done)
        if not done.phases and not done.plan:
            return
        guild = self.bot.get_guild(guild_id)
        if guild is None:
            return
        settings = await get_settings(self.bot.db, guild_id)
        now = self.bot.clock()
        if settings.milestones_channel and result.after.visible:  # hidden members are not announced
            problem = await self._announce(guild, settings.milestones_channel,
                                           milestone_text(user_id, done.phases, plan, done.plan))
            if problem:
                await record_failure(self.bot.db, guild_id, "milestone_post", now, problem)
        phases = [p.number for p in done.phases] + ([0] if done.plan else [])
        for phase in phases:
            role_id = settings.roles.get(phase)
            if role_id is not None:
                problem = await self._give_role(guild, user_id, role_id, phase)
                if problem:
                    await record_failure(self.bot.db, guild_id, "milestone_role", now, problem)

    async def _announce(self, guild: discord.Guild, channel_id: int, text: str) -> str | None:
        channel = guild.get_channel(channel_id)
        if not isinstance(channel, discord.TextChannel):
            return "The milestones channel no longer exists. Pick another with `/config milestones`."
        missing = missing_send(channel, guild.me)
        if missing:
            return f"I am missing {', '.join(missing)} in {channel.mention}."
        try:
            await channel.send(text)
        except discord.HTTPException as error:
            return f"Announcing in {channel.mention} failed ({error.status}): {error.text or 'no detail'}."
        return None

    async def _give_role(self, guild: discord.Guild, user_id: int, role_id: int, phase: int) -> str | None:
        role = guild.get_role(role_id)
        what = "the whole plan" if phase == 0 else f"phase {phase}"
        if role is None:
            return f"The role for {what} no longer exists. Pick another with `/config milestone-role`."
        if not guild.me.guild_permissions.manage_roles:
            return f"I could not give {role.mention} to <@{user_id}>: I don't have the Manage Roles permission."
        if role >= guild.me.top_role:
            return (f"I could not give {role.mention} to <@{user_id}>: it is not below my highest role. "
                    "Drag my role above it in Server Settings → Roles.")
        try:
            member = guild.get_member(user_id) or await guild.fetch_member(user_id)
            await member.add_roles(role, reason=f"Stepwise: completed {what}")
        except discord.NotFound:
            return f"I could not give {role.mention} to <@{user_id}>: they are no longer in the server."
        except discord.HTTPException as error:
            return f"I could not give {role.mention} to <@{user_id}> ({error.status}): {error.text or 'no detail'}."
        return None

    # ------------------------------------------------------------------ joining a server

    @commands.Cog.listener()
    async def on_guild_join(self, guild: discord.Guild) -> None:
        channel = guild.system_channel
        if channel is None or missing_send(channel, guild.me):
            log.info("joined guild %s; no system channel I may post in, so no hello", guild.id)
            return
        try:
            await channel.send(embed=getting_started_embed(self.bot.plan))
        except discord.HTTPException:
            log.warning("joined guild %s; the getting-started message could not be sent", guild.id)


async def setup(bot: StepwiseBot) -> None:
    await bot.add_cog(Announcements(bot))
