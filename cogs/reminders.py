"""/remind: one DM a day at the member's own time with their next step; the tick's Discord side (DiscordSender).

The tick itself lives in bot/services/reminders.py (ReminderDispatcher); this cog wires it to discord.py.
"""

from __future__ import annotations

import logging
from datetime import datetime

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import StepwiseBot
from bot.domain.errors import UserError
from bot.domain.progress import Status, current_step
from bot.domain.reminders import SNOOZE, Schedule, SendWindow, parse_days, suggest_days, suggest_times
from bot.domain.timeutil import local_date, parse_hhmm, resolve_timezone, search_timezones
from bot.services.membership import Membership, check_member, member_left, member_returned
from bot.services.reminders import ChannelGone, DmsClosed, ReminderDispatcher, ReminderMessage, Unbuildable
from bot.tree import send_ephemeral
from bot.ui.plan_views import SUCCESS, escape
from bot.ui.reminders import (
    MEMBERSHIP_UNKNOWN,
    OFF,
    SERVER_GONE_LINE,
    DmContent,
    ReminderButton,
    after_press,
    example_set,
    left_server_line,
    pause_notice,
    reminder_dm,
    set_embed,
    status_embed,
    when,
)
from db import reminders as store
from db.progress import StepChange
from db.settings import get_guild_timezone
from db.track_reads import change_on_track

log = logging.getLogger(__name__)

DMS_CLOSED = 50007  # Discord: Cannot send messages to this user
UNKNOWN_CHANNEL = 10003
UNKNOWN_MEMBER = 10007
MISSING_ACCESS = 50001


class DiscordMembers:
    """The membership lookup on Discord's REST API (no members intent needed): one request per question.

    Used by DM button presses (via bot.services.membership) and, through DiscordSender, by the reminder tick.
    """

    def __init__(self, bot: StepwiseBot) -> None:
        self.bot = bot

    async def membership(self, guild_id: int, user_id: int) -> Membership:
        guild = self.bot.get_guild(guild_id)
        if guild is None and self.bot.ownership.owns(guild_id):
            return Membership.NO_SERVER  # my shards carry that server, and it is not there: I left it
        try:
            # A server on another process's shard is not in my cache (a DM button reaches the process that runs
            # shard 0, whatever the server's shard): ask Discord about it directly.
            await self.bot.http.get_member(guild_id, user_id)
        except discord.NotFound as error:
            return Membership.LEFT if guild is not None or error.code == UNKNOWN_MEMBER else Membership.NO_SERVER
        except discord.Forbidden as error:
            if guild is None and error.code == MISSING_ACCESS:  # not in that server
                return Membership.NO_SERVER
            log.warning("could not look up user %s in guild %s: %s", user_id, guild_id, error)
            return Membership.UNKNOWN
        except discord.HTTPException as error:
            log.warning("could not look up user %s in guild %s: %s", user_id, guild_id, error)
            return Membership.UNKNOWN
        return Membership.MEMBER


class DiscordSender(DiscordMembers):
    """The reminder tick's `Sender` (bot/services/reminders.py), with discord.py."""

    async def open_dm(self, user_id: int) -> int:
        return (await self.bot.create_dm(discord.Object(user_id))).id

    async def send_dm(self, channel_id: int, message: ReminderMessage, nonce: str) -> int:
        guild = self.bot.get_guild(message.guild_id)
        try:
            content = DmContent(message.guild_id, guild.name if guild else "your server", message.user_id,
                                message.kind, message.for_date, message.schedule, message.step, message.done,
                                message.streak, message.plan_id, message.track_name, message.unavailable)
            lead, embed, view = reminder_dm(message.plan or self.bot.plan, content)
        except Exception as error:
            raise Unbuildable(str(error)) from error
        channel = self.bot.get_partial_messageable(channel_id, type=discord.ChannelType.private)
        try:
            sent = await channel.send(lead, embed=embed, view=view, nonce=nonce)  # discord.py: enforce_nonce
        except discord.Forbidden as error:
            if error.code == DMS_CLOSED:
                raise DmsClosed(str(error)) from error
            raise
        except discord.NotFound as error:
            if error.code == UNKNOWN_CHANNEL:
                raise ChannelGone(str(error)) from error
            raise
        return sent.id

    async def is_member(self, guild_id: int, user_id: int) -> bool:
        """False only when Discord says the member is gone; a failed lookup raises (the tick then sends anyway),
        and a server the bot is not in is left to the guild-removed listener."""
        found = await self.membership(guild_id, user_id)
        if found is Membership.UNKNOWN:
            raise LookupError(f"membership of user {user_id} in guild {guild_id} is unknown")
        return found is not Membership.LEFT


@app_commands.guild_only()
class Reminders(commands.GroupCog, group_name="remind", group_description="A daily DM with your next step"):
    """One DM a day at your own time, with your next step and buttons to mark it done."""

    help_title = "Reminders"

    def __init__(self, bot: StepwiseBot) -> None:
        self.bot = bot
        self.dispatcher = ReminderDispatcher(bot.db, bot.plan, DiscordSender(bot),
                                             stopping=lambda: bot.draining, ownership=bot.ownership,
                                             tracks=bot.tracks)
        super().__init__()

    async def cog_load(self) -> None:
        self.bot.add_scheduled_job("reminders", self.run_due)

    async def cog_unload(self) -> None:
        self.bot.remove_scheduled_job("reminders")

    # ------------------------------------------------------------------ commands

    @app_commands.command(name="set", description="Get a DM with your next step every day at your own time")
    @app_commands.describe(time="Your local time, 24-hour HH:MM, e.g. 09:00 or 18:30",
                           timezone="Your time zone, e.g. Europe/Berlin (default: the server's)",
                           days="daily (default), weekdays, weekends, or days like mon,wed,fri")
    async def set_(self, interaction: discord.Interaction, time: app_commands.Range[str, 1, 20],
                   timezone: app_commands.Range[str, 1, 64] | None = None,
                   days: app_commands.Range[str, 1, 60] | None = None) -> None:
        guild_id = interaction.guild_id or 0
        try:
            at = parse_hhmm(time)
            tz = resolve_timezone(timezone) if timezone else await get_guild_timezone(
                self.bot.db, guild_id, self.bot.settings.tz)
            chosen = parse_days(days)
        except ValueError as error:
            raise UserError(str(error)) from None
        reminder = await store.set_reminder(self.bot.db, guild_id, interaction.user.id, Schedule(at, tz, chosen),
                                            self.bot.clock())
        await interaction.response.send_message(embed=set_embed(reminder, self._guild_name(guild_id)),
                                                ephemeral=True)

    @set_.autocomplete("time")
    async def time_autocomplete(self, _: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=t, value=t) for t in suggest_times(current)]

    @set_.autocomplete("timezone")
    async def timezone_autocomplete(self, _: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=z, value=z) for z in search_timezones(current)]

    @set_.autocomplete("days")
    async def days_autocomplete(self, _: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=d, value=d) for d in suggest_days(current)]

    @app_commands.command(name="off", description="Stop your daily reminder (your setting is kept)")
    async def off(self, interaction: discord.Interaction) -> None:
        guild_id = interaction.guild_id or 0
        reminder = await store.turn_off(self.bot.db, guild_id, interaction.user.id, self.bot.clock())
        if reminder is None:
            raise UserError("You have no reminder in this server, so there is nothing to turn off. "
                            "Set one with `/remind set time:09:00`.")
        await interaction.response.send_message(embed=status_embed(reminder, self._guild_name(guild_id)),
                                                ephemeral=True)

    @app_commands.command(name="status", description="When your next reminder comes, or why it is paused")
    async def status(self, interaction: discord.Interaction) -> None:
        guild_id = interaction.guild_id or 0
        reminder = await store.get_reminder(self.bot.db, guild_id, interaction.user.id)
        await interaction.response.send_message(embed=status_embed(reminder, self._guild_name(guild_id)),
                                                ephemeral=True)

    def _guild_name(self, guild_id: int) -> str:
        guild = self.bot.get_guild(guild_id)
        return guild.name if guild else "your server"

    # ------------------------------------------------------------------ the one notice seam

    @commands.Cog.listener()
    async def on_app_command_completion(self, interaction: discord.Interaction,
                                        command: app_commands.Command | app_commands.ContextMenu) -> None:
        """After any command in a server: tell a member whose reminders were paused how to fix it, once."""
        if interaction.guild_id is None or command.qualified_name.startswith("remind"):
            return
        if interaction.response.type is discord.InteractionResponseType.modal:
            return
        reminder = await store.take_pause_notice(self.bot.db, interaction.guild_id, interaction.user.id)
        if reminder is not None:
            await send_ephemeral(interaction, pause_notice(reminder, self._guild_name(interaction.guild_id)))

    @commands.Cog.listener()
    async def on_guild_remove(self, guild: discord.Guild) -> None:
        """The bot was removed from a server: its reminders stop (members can `/remind set` if it returns)."""
        stopped = await store.turn_off_guild(self.bot.db, guild.id, self.bot.clock())
        log.info("left guild %s; stopped %d reminders", guild.id, stopped)

    # ------------------------------------------------------------------ membership (MEMBERS_INTENT only)

    @commands.Cog.listener()
    async def on_raw_member_remove(self, payload: discord.RawMemberRemoveEvent) -> None:
        """A member left or was removed: off the boards and no more reminders here, at once.

        The raw event, because the member cache holds few members: `on_member_remove` only fires for cached ones.
        """
        if not payload.user.bot:
            await member_left(self.bot.db, payload.guild_id, payload.user.id, self.bot.clock())

    @commands.Cog.listener()
    async def on_member_join(self, member: discord.Member) -> None:
        """A member (re)joined: back on the boards; a reminder paused when they left waits for `/remind set`."""
        if not member.bot:
            await member_returned(self.bot.db, member.guild.id, member.id)

    # ------------------------------------------------------------------ the scheduled job (bot/services/reminders.py)

    @property
    def window(self) -> SendWindow:
        """The tick's pacing (tests and benches lift it)."""
        return self.dispatcher.window

    @window.setter
    def window(self, value: SendWindow) -> None:
        self.dispatcher.window = value

    async def run_due(self, now: datetime) -> None:
        await self.dispatcher.run_due(now)

    # ------------------------------------------------------------------ buttons

    async def on_reminder_button(self, interaction: discord.Interaction, button: ReminderButton) -> None:
        now = self.bot.clock()
        guild_id, user_id = button.guild_id, button.user_id
        db = self.bot.db
        membership = await check_member(db, DiscordMembers(self.bot), guild_id, user_id, now)
        if membership is Membership.UNKNOWN:
            await send_ephemeral(interaction, MEMBERSHIP_UNKNOWN)
            return
        if membership is not Membership.MEMBER:  # nothing is written for a server they (or I) left
            line = left_server_line(self._guild_name(guild_id)) if membership is Membership.LEFT \
                else SERVER_GONE_LINE
            await interaction.response.edit_message(embed=after_press(interaction.message, line, OFF), view=None)
            return
        reminder = await store.get_reminder(db, guild_id, user_id)
        tz = reminder.schedule.tz if reminder else await get_guild_timezone(db, guild_id, self.bot.settings.tz)
        today = local_date(now, tz)
        colour: discord.Colour | None = None
        if button.action == "done":
            track = await self.bot.tracks.current(guild_id, user_id)
            if track.plan_id != button.plan_id:
                await send_ephemeral(interaction, f"This reminder was for another track; you follow "
                                                  f"**{escape(track.name)}** now. Try `/plan next` in the server.")
                return
            plan = track.plan
            step = plan.get(button.step)
            if step is None:
                await send_ephemeral(interaction, f"Step {button.step} is no longer in the plan: "
                                                  "try `/plan next` in the server.")
                return
            mark = [StepChange(step.number, Status.DONE)]
            # Only while the member is still on the DM's track: a switch landing now writes nothing.
            result = await change_on_track(db, guild_id, user_id, lambda _member: mark, now,
                                           plan_id=track.plan_id, default_tz=self.bot.settings.tz)
            if result.changed:
                self.bot.dispatch("progress_changed", guild_id, user_id, result)
            await store.record_action(db, guild_id, user_id, button.day, "done")
            following = current_step(plan, result.after.states)
            line = (f"✅ **Step {step.number} marked done** ({result.after.done_count}/{plan.total})."
                    if result.changed else f"✅ Step {step.number} was already done.")
            line += (f" Next up: **{following.number}. {escape(following.title)}**" if following
                     else " That was the last one!")
            colour = SUCCESS
        elif button.action == "stop":
            if reminder is None or not reminder.enabled:
                line = "🔕 Your reminders were already off."
            else:
                await store.turn_off(db, guild_id, user_id, now)
                line = f"🔕 **Reminders stopped.** Your setting is kept: turn them back on with " \
                       f"{example_set(reminder.schedule)} in {self._guild_name(guild_id)}."
            colour = OFF
        elif reminder is None or not reminder.active:
            line = "🔕 Your reminders in that server are off, so there is nothing to snooze or skip."
        elif button.day != today:
            line = f"This reminder was for {button.day:%a} {button.day.day} {button.day:%b}, not today."
        elif button.action == "snooze":
            snoozed = await store.snooze(db, guild_id, user_id, until=now + SNOOZE, for_date=button.day, now=now)
            line = f"⏰ **Snoozed.** I'll remind you again {discord.utils.format_dt(now + SNOOZE, 'R')}." \
                if snoozed else "Your reminders are off, so there is nothing to snooze."
        else:
            skipped = await store.skip_day(db, guild_id, user_id, button.day, now)
            nxt = skipped.next_due if skipped else None
            line = "😴 **Skipping today.** " + (f"Next reminder: {when(nxt, skipped.schedule)}" if skipped and nxt
                                                else "See you soon.")
        await interaction.response.edit_message(embed=after_press(interaction.message, line, colour), view=None)


async def setup(bot: StepwiseBot) -> None:
    await bot.add_cog(Reminders(bot))
