"""Things the bot posts on its own: scheduled leaderboards, milestones (and their roles), the getting-started note.

Nothing here raises at a member: a post or role that fails is logged and recorded for `/config show`.
"""

from __future__ import annotations

import logging
from datetime import datetime

import discord
from discord.ext import commands

from bot.app import StepwiseBot
from bot.domain.progress import completions
from bot.domain.tracks import milestone_key, milestone_phase
from bot.services.posts import Board, LeaderboardPosts, Refused, Sent
from bot.ui.community_views import (
    BOARD_TITLE,
    getting_started_embed,
    milestone_text,
    missing_send,
    scheduled_post_embed,
    scheduled_post_embeds,
)
from bot.ui.names import member_names
from db.community import get_settings, record_failure
from db.milestones import claim_milestones, claim_role, record_announcement, release_role
from db.progress import ChangeResult

log = logging.getLogger(__name__)
JOB = "community-leaderboard-posts"
UNKNOWN_ROLE = 10011  # Discord's error code


class Announcements(commands.Cog):
    """Scheduled leaderboard posts, milestone announcements and roles, and the hello on joining a server."""

    def __init__(self, bot: StepwiseBot) -> None:
        self.bot = bot
        self.posts = LeaderboardPosts(bot.db, self, default_tz=bot.settings.tz, plan_total=bot.plan.total,
                                      tracks=bot.tracks,
                                      ownership=bot.ownership)

    async def cog_load(self) -> None:
        self.bot.add_scheduled_job(JOB, self.posts.tick)

    async def cog_unload(self) -> None:
        self.bot.remove_scheduled_job(JOB)

    # ------------------------------------------------------------------ scheduled leaderboard posts
    # The use case (claim, send with a nonce, record, retry) is bot.services.posts; this cog is its sender.

    def _board_channel(self, guild_id: int, channel_id: int | None) -> discord.TextChannel | None:
        guild = self.bot.get_guild(guild_id)
        channel = guild.get_channel(channel_id) if guild and channel_id else None
        return channel if isinstance(channel, discord.TextChannel) else None

    async def send_post(self, guild_id: int, channel_id: int | None, board: Board, nonce: str) -> Sent | Refused:
        channel = self._board_channel(guild_id, channel_id)
        if channel is None:
            return Refused("The leaderboard channel no longer exists. Pick another with `/config leaderboard`.")
        missing = missing_send(channel, channel.guild.me)
        if missing:
            return Refused(f"I am missing {', '.join(missing)} in {channel.mention}.")
        ranked = [r.user_id for r in (*board.rows, *board.movers)]
        ranked += [r.user_id for t in board.tracks for r in (*t.rows, *t.movers)]
        names = await member_names(channel.guild, ranked)
        embed = scheduled_post_embed(board.rows, board.movers, board.movers_label, cohort_line=board.cohort_line,
                                     slot=board.slot, late=board.late, names=names, track=board.track_name)
        embeds = scheduled_post_embeds(embed, [(t.name, t.total, t.rows, t.movers, t.movers_label)
                                               for t in board.tracks], names=names)
        try:
            message = await channel.send(embeds=embeds, nonce=nonce)
        except discord.Forbidden as error:
            return Refused(f"Discord refused the post in {channel.mention}: {error.text or 'missing permission'}.")
        except discord.HTTPException as error:
            if error.status >= 500:  # Discord may or may not have made it: unknown, so retried
                raise
            return Refused(f"Posting in {channel.mention} failed ({error.status}): {error.text or 'no detail'}.")
        return Sent(message.id)

    async def find_post(self, guild_id: int, channel_id: int | None, slot: datetime) -> int | None:
        channel = self._board_channel(guild_id, channel_id)
        if channel is None or not channel.permissions_for(channel.guild.me).read_message_history:
            return None  # cannot look: the nonce is then the only guard
        me = channel.guild.me.id
        try:
            async for message in channel.history(limit=100):  # the post is recent: within the slot's window
                if message.author.id == me and any(e.title == BOARD_TITLE and e.timestamp == slot
                                                   for e in message.embeds):
                    return message.id
        except discord.Forbidden:
            return None
        return None

    # ------------------------------------------------------------------ milestones

    @commands.Cog.listener()
    async def on_progress_changed(self, guild_id: int, user_id: int, result: ChangeResult) -> None:
        try:
            await self._celebrate(guild_id, user_id, result)
        except Exception:
            log.exception("milestones for user %s in guild %s failed", user_id, guild_id)

    async def _celebrate(self, guild_id: int, user_id: int, result: ChangeResult) -> None:
        """Announce and give roles for milestones the change completed, once per member and milestone.

        The first completion of a milestone is the moment: it is recorded (db.milestones) before anything is
        sent, so /undo + /redo, a re-import or a restart never announce it again. A hidden member, or a server
        without a milestones channel, gets no announcement then, and none later. A failed announcement is
        recorded for /config show and not tried again (it would arrive out of its moment). A role is given once;
        one that could not be given is tried again the next time the member completes that milestone. A hidden
        member gets no role (roles show in the member list); after showing again, the next completion gives it.
        """
        if not result.after.done - result.before.done:
            return  # nothing newly done: nothing completed (no read on undo, skip, in-progress)
        # The track the store wrote the change on: the bundled plan costs no read; an own plan one.
        track = await self.bot.tracks.get(guild_id, result.plan_id)
        if track is None:
            return  # removed (or unreadable) since the change: its phases cannot be named
        plan = track.plan
        done = completions(plan, result.before.done, result.after.done)
        if not done.phases and not done.plan:
            return
        guild = self.bot.get_guild(guild_id)
        if guild is None and self.bot.ownership.owns(guild_id):
            return  # my shards carry that server, and it is not there: I left it
        # Otherwise a server on another process's shard (a reminder DM's button reaches the process that runs
        # shard 0): announce and give roles through Discord's API, without the server's cache.
        settings = await get_settings(self.bot.db, guild_id)
        now = self.bot.clock()
        # Milestones are per track: the keys of an own plan's phases are apart from the bundled plan's.
        reached = [milestone_key(track.plan_id, p.number) for p in done.phases] + (
            [milestone_key(track.plan_id, 0)] if done.plan else [])
        channel_id = settings.milestones_channel
        announce = bool(channel_id) and result.after.visible  # hidden members are not announced
        skip = None if announce else ("hidden" if not result.after.visible else "no milestones channel")
        claimed = await claim_milestones(self.bot.db, guild_id, user_id, reached, now, announce=announce,
                                         skip_reason=skip)
        if claimed and channel_id:
            phases = {milestone_phase(key)[1] for key in claimed}
            named = None if track.bundled and not await self.bot.tracks.has_own(guild_id) else track.name
            text = milestone_text(user_id, [p for p in done.phases if p.number in phases], plan, 0 in phases,
                                  track=named)
            message_id, problem = await self._announce(guild, channel_id, text) if guild is not None \
                else await self._announce_uncached(guild_id, channel_id, text)
            await record_announcement(self.bot.db, guild_id, user_id, claimed, message_id=message_id,
                                      reason=problem)
            if problem:
                await record_failure(self.bot.db, guild_id, "milestone_post", now, problem)
        for milestone in reached if result.after.visible else ():  # a role shows in the member list: not while hidden
            role_id = settings.roles.get(milestone)
            if role_id is None or not await claim_role(self.bot.db, guild_id, user_id, milestone, role_id, now=now):
                continue
            problem = await self._give_role(guild, user_id, role_id, milestone) if guild is not None \
                else await self._give_role_uncached(guild_id, user_id, role_id, milestone)
            if problem:
                await release_role(self.bot.db, guild_id, user_id, milestone, role_id)
                await record_failure(self.bot.db, guild_id, "milestone_role", now, problem)

    async def _announce(self, guild: discord.Guild, channel_id: int, text: str) -> tuple[int | None, str | None]:
        """(message id, None) when announced, else (None, the problem for /config show)."""
        channel = guild.get_channel(channel_id)
        if not isinstance(channel, discord.TextChannel):
            return None, "The milestones channel no longer exists. Pick another with `/config milestones`."
        missing = missing_send(channel, guild.me)
        if missing:
            return None, f"I am missing {', '.join(missing)} in {channel.mention}."
        try:
            message = await channel.send(text)
        except discord.HTTPException as error:
            return None, f"Announcing in {channel.mention} failed ({error.status}): {error.text or 'no detail'}."
        except Exception as error:  # a network error: not retried, but shown
            log.warning("milestone announcement in guild %s failed", guild.id, exc_info=True)
            return None, f"Announcing in {channel.mention} did not finish ({type(error).__name__}: {error})."
        return message.id, None

    async def _announce_uncached(self, guild_id: int, channel_id: int, text: str) -> tuple[int | None, str | None]:
        """`_announce` for a server this process does not carry: Discord checks the channel and permissions."""
        channel = self.bot.get_partial_messageable(channel_id, guild_id=guild_id, type=discord.ChannelType.text)
        try:
            message = await channel.send(text)
        except discord.NotFound:
            return None, "The milestones channel no longer exists. Pick another with `/config milestones`."
        except discord.HTTPException as error:
            return None, f"Announcing in {channel.mention} failed ({error.status}): {error.text or 'no detail'}."
        except Exception as error:  # a network error: not retried, but shown
            log.warning("milestone announcement in guild %s failed", guild_id, exc_info=True)
            return None, f"Announcing in {channel.mention} did not finish ({type(error).__name__}: {error})."
        return message.id, None

    async def _give_role_uncached(self, guild_id: int, user_id: int, role_id: int, phase: int) -> str | None:
        """`_give_role` for a server this process does not carry: Discord checks the role and the hierarchy."""
        role, what = f"<@&{role_id}>", "the whole plan" if phase == 0 else f"phase {phase}"
        try:
            await self.bot.http.add_role(guild_id, user_id, role_id, reason=f"Stepwise: completed {what}")
        except discord.NotFound as error:
            if error.code == UNKNOWN_ROLE:
                return f"The role for {what} no longer exists. Pick another with `/config milestone-role`."
            return f"I could not give {role} to <@{user_id}>: they are no longer in the server."
        except discord.Forbidden:
            return (f"I could not give {role} to <@{user_id}>: I need the Manage Roles permission and my highest "
                    "role above it (Server Settings → Roles).")
        except discord.HTTPException as error:
            return f"I could not give {role} to <@{user_id}> ({error.status}): {error.text or 'no detail'}."
        except Exception as error:  # a network error: tried again on the member's next completion
            log.warning("milestone role in guild %s failed", guild_id, exc_info=True)
            return f"I could not give {role} to <@{user_id}> ({type(error).__name__}: {error})."
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
        except Exception as error:  # a network error: tried again on the member's next completion
            log.warning("milestone role in guild %s failed", guild.id, exc_info=True)
            return f"I could not give {role.mention} to <@{user_id}> ({type(error).__name__}: {error})."
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
