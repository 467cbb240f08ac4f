"""/config: server settings for admins (Manage Server), hidden from others and checked again at run time."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import StepwiseBot
from bot.domain.community import PACE_MAX, PACE_MIN, next_slot, parse_cohort, parse_schedule
from bot.domain.errors import UserError
from bot.domain.timeutil import local_date, resolve_timezone, search_timezones
from bot.ui.community_views import config_embed, missing_send
from bot.ui.names import member_names, mentioned_ids
from db.community import (
    change_timezone,
    get_settings,
    set_cohort,
    set_leaderboard,
    set_milestone_role,
    set_milestones_channel,
)
from db.settings import get_guild_timezone

WEEKDAYS = [app_commands.Choice(name=n, value=n) for n in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")]
SCHEDULES = [app_commands.Choice(name=n, value=n) for n in ("daily", "weekly", "off")]
admin_only = app_commands.checks.has_permissions(manage_guild=True)


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class Config(commands.GroupCog, group_name="config", group_description="Server settings (Manage Server)"):
    """Server settings for admins: time zone, leaderboard posts, milestones, cohort."""

    help_title = "Server settings"

    def __init__(self, bot: StepwiseBot) -> None:
        self.bot = bot
        super().__init__()

    async def _tz_guild(self, interaction: discord.Interaction) -> tuple[int, discord.Guild]:
        if interaction.guild is None:  # guild_only, but keep mypy and odd clients honest
            raise UserError("This command works in a server, not in DMs.")
        return interaction.guild.id, interaction.guild

    @app_commands.command(name="leaderboard", description="Where and when I post the leaderboard (server time)")
    @app_commands.describe(channel="The text channel for the posts", schedule="daily, weekly, or off",
                           time="Local time of day, 24-hour HH:MM such as 18:00",
                           weekday="For weekly posts: the day of the week")
    @app_commands.choices(schedule=SCHEDULES, weekday=WEEKDAYS)
    @admin_only
    async def leaderboard(self, interaction: discord.Interaction, channel: discord.TextChannel, schedule: str,
                          time: str | None = None, weekday: str | None = None) -> None:
        guild_id, guild = await self._tz_guild(interaction)
        parsed = parse_schedule(schedule, time, weekday)
        tz = await get_guild_timezone(self.bot.db, guild_id, self.bot.settings.tz)
        upcoming = next_slot(parsed, self.bot.clock(), tz)
        await set_leaderboard(self.bot.db, guild_id, channel.id if parsed.kind != "off" else None, parsed, upcoming)
        if upcoming is None:
            await interaction.response.send_message("Scheduled leaderboard posts are off.", ephemeral=True)
            return
        text = (f"✅ I will post the leaderboard in {channel.mention} {parsed.describe()} ({tz.key}). "
                f"First post: {discord.utils.format_dt(upcoming, 'F')}.")
        missing = missing_send(channel, guild.me)
        if missing:
            text += (f"\n⚠️ I can't post there yet: I need {', '.join(missing)} in {channel.mention}. "
                     "Until then each post fails and shows up in `/config show`.")
        await interaction.response.send_message(text, ephemeral=True)

    @app_commands.command(name="timezone", description="The server's time zone for weeks, months and posts")
    @app_commands.describe(timezone="An IANA name such as Europe/Berlin (start typing to search)")
    @admin_only
    async def timezone(self, interaction: discord.Interaction, timezone: str) -> None:
        guild_id, _ = await self._tz_guild(interaction)
        try:
            tz = resolve_timezone(timezone)
        except ValueError as error:
            raise UserError(str(error)) from None
        # Recounting a big server's weeks and months can take longer than Discord's 3 seconds: answer first.
        await interaction.response.defer(ephemeral=True, thinking=True)
        await change_timezone(self.bot.db, guild_id, tz, self.bot.clock())
        local = self.bot.clock().astimezone(tz)
        await interaction.followup.send(
            f"✅ The server's time zone is now `{tz.key}` (it is {local:%H:%M} there). Weeks and months on the "
            "leaderboard and the scheduled posts follow it.", ephemeral=True)

    @timezone.autocomplete("timezone")
    async def timezone_autocomplete(self, interaction: discord.Interaction,
                                    current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=z, value=z) for z in search_timezones(current)]

    @app_commands.command(name="milestones", description="Where completed phases and finished plans are announced")
    @app_commands.describe(channel="The text channel (leave out to stop announcing)")
    @admin_only
    async def milestones(self, interaction: discord.Interaction, channel: discord.TextChannel | None = None) -> None:
        guild_id, guild = await self._tz_guild(interaction)
        await set_milestones_channel(self.bot.db, guild_id, channel.id if channel else None)
        if channel is None:
            await interaction.response.send_message("Milestones are no longer announced.", ephemeral=True)
            return
        text = f"✅ Completed phases and finished plans will be announced in {channel.mention}."
        missing = missing_send(channel, guild.me)
        if missing:
            text += f"\n⚠️ I can't post there yet: I need {', '.join(missing)} in {channel.mention}."
        await interaction.response.send_message(text, ephemeral=True)

    @app_commands.command(name="milestone-role", description="A role given to members who complete a phase")
    @app_commands.describe(phase="Phase number, or 0 for finishing the whole plan",
                           role="The role to give (leave out to stop giving one for this phase)")
    @admin_only
    async def milestone_role(self, interaction: discord.Interaction, phase: int,
                             role: discord.Role | None = None) -> None:
        guild_id, guild = await self._tz_guild(interaction)
        phases = len(self.bot.plan.phases)
        if not 0 <= phase <= phases:
            raise UserError(f"There is no phase {phase}: phases go from 1 to {phases}, "
                            "and 0 means finishing the whole plan.")
        what = "finishing the whole plan" if phase == 0 else f"completing phase {phase}"
        if role is None:
            await set_milestone_role(self.bot.db, guild_id, phase, None)
            await interaction.response.send_message(f"No role is given for {what} any more.", ephemeral=True)
            return
        if role.is_default() or role.managed:
            raise UserError(f"I can't give {role.mention}: it is managed by Discord or an integration. "
                            "Pick a role you created.")
        await set_milestone_role(self.bot.db, guild_id, phase, role.id)
        text = f"✅ Members get {role.mention} for {what}."
        if not guild.me.guild_permissions.manage_roles:
            text += "\n⚠️ I don't have the Manage Roles permission yet, so I can't give it until you grant it."
        elif role >= guild.me.top_role:
            text += (f"\n⚠️ {role.mention} is not below my highest role, so Discord won't let me give it. "
                     "Drag my role above it in Server Settings → Roles.")
        await interaction.response.send_message(text, ephemeral=True)

    @app_commands.command(name="cohort", description="A shared schedule: /progress then says who is on pace")
    @app_commands.describe(start="First day, YYYY-MM-DD (or 'off' to remove the cohort)",
                           pace="Steps per week, such as 5 (the plan must be done within 10 years)")
    @admin_only
    async def cohort(self, interaction: discord.Interaction, start: app_commands.Range[str, 1, 40],
                     pace: app_commands.Range[float, PACE_MIN, PACE_MAX] = 5.0) -> None:
        guild_id, _ = await self._tz_guild(interaction)
        if start.strip().casefold() == "off":
            await set_cohort(self.bot.db, guild_id, None)
            await interaction.response.send_message("The cohort schedule is removed.", ephemeral=True)
            return
        total = self.bot.plan.total
        tz = await get_guild_timezone(self.bot.db, guild_id, self.bot.settings.tz)
        cohort = parse_cohort(start, pace, total, local_date(self.bot.clock(), tz))
        end = cohort.end(total)  # within 10 years: parse_cohort makes sure
        await set_cohort(self.bot.db, guild_id, cohort)
        await interaction.response.send_message(
            f"✅ Cohort from {cohort.start.isoformat()} at {cohort.pace:g} steps a week: all {total} steps by "
            f"{end.isoformat() if end else '?'}. `/progress` now tells each member whether they are on pace.",
            ephemeral=True)

    @app_commands.command(name="show", description="Every setting, and the last failure of each automatic post")
    @admin_only
    async def show(self, interaction: discord.Interaction) -> None:
        guild_id, guild = await self._tz_guild(interaction)
        settings = await get_settings(self.bot.db, guild_id)
        names = await member_names(guild, mentioned_ids(f.message for f in settings.failures.values()))
        tz = await get_guild_timezone(self.bot.db, guild_id, self.bot.settings.tz)
        today = local_date(self.bot.clock(), tz)
        expected = settings.cohort.expected(today, self.bot.plan.total) if settings.cohort else None
        embed = config_embed(
            tz=tz, plan=self.bot.plan, leaderboard_channel=settings.leaderboard_channel,
            schedule=settings.schedule.describe(), next_slot=settings.next_slot, last_slot=settings.last_slot,
            posted_at=settings.posted_at, milestones_channel=settings.milestones_channel, roles=settings.roles,
            cohort=settings.cohort, cohort_expected=expected,
            failures={k: (f.at, f.message) for k, f in settings.failures.items()}, names=names,
        )
        await interaction.response.send_message(embed=embed, ephemeral=True)


async def setup(bot: StepwiseBot) -> None:
    await bot.add_cog(Config(bot))
