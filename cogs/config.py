"""/config: server settings for admins (Manage Server), hidden from others and checked again at run time."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import StepwiseBot
from bot.domain.community import PACE_MAX, PACE_MIN, next_slot, parse_cohort, parse_schedule
from bot.domain.errors import UserError
from bot.domain.plan import PlanError
from bot.domain.plan_upload import MAX_BYTES
from bot.domain.timeutil import local_date, resolve_timezone, search_timezones
from bot.domain.tracks import Track, milestone_key, milestone_phase
from bot.services.plan_admin import PlanAdmin, UploadPreview
from bot.ui.community_views import config_embed, missing_send
from bot.ui.names import member_names, mentioned_ids
from bot.ui.plan_admin_views import plans_list_embed, upload_preview_embed, upload_problems_embed
from bot.ui.plan_views import escape
from bot.ui.progress_views import ConfirmView
from bot.ui.track_views import track_choices
from db.community import (
    change_timezone,
    get_settings,
    set_cohort,
    set_leaderboard,
    set_milestone_role,
    set_milestones_channel,
)
from db.settings import get_guild_timezone

CONFIRM_SECONDS = 600


def stored_message(track: Track, preview: UploadPreview, moved: int) -> str:
    name = escape(track.name)
    if preview.replaces is None:
        return (f"✅ **{name}** is a track now: {track.plan.total} steps. Members join with `/track join name:"
                f"{name}`; make it where new members start with `/config plan default`.")
    text = f"✅ **{name}** is at version {track.version}: {track.plan.total} steps."
    if moved:
        text += f" Progress of {moved} member{'' if moved == 1 else 's'} moved with it (archived or restored)."
    return text

WEEKDAYS = [app_commands.Choice(name=n, value=n) for n in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")]
SCHEDULES = [app_commands.Choice(name=n, value=n) for n in ("daily", "weekly", "off")]
admin_only = app_commands.checks.has_permissions(manage_guild=True)


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class Config(commands.GroupCog, group_name="config", group_description="Server settings (Manage Server)"):
    """Server settings for admins: time zone, leaderboard posts, milestones, cohort."""

    help_title = "Server settings"

    plan = app_commands.Group(name="plan", description="The server's own plans (tracks)")

    def __init__(self, bot: StepwiseBot) -> None:
        self.bot = bot
        self.plans = PlanAdmin(bot.db, bot.tracks, bot.settings.tz)
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
                           role="The role to give (leave out to stop giving one for this phase)",
                           track="Whose phases (default: the bundled plan)")
    @admin_only
    async def milestone_role(self, interaction: discord.Interaction, phase: int,
                             role: discord.Role | None = None,
                             track: app_commands.Range[str, 1, 100] | None = None) -> None:
        guild_id, guild = await self._tz_guild(interaction)
        chosen = await self.bot.tracks.find(guild_id, track) if track else self.bot.tracks.bundled
        phases = len(chosen.plan.phases)
        if not 0 <= phase <= phases:
            raise UserError(f"There is no phase {phase} in {escape(chosen.name)}: phases go from 1 to {phases}, "
                            "and 0 means finishing the whole plan.")
        what = "finishing the whole plan" if phase == 0 else f"completing phase {phase}"
        if not chosen.bundled:
            what += f" of **{escape(chosen.name)}**"
        key = milestone_key(chosen.plan_id, phase)
        if role is None:
            await set_milestone_role(self.bot.db, guild_id, key, None)
            await interaction.response.send_message(f"No role is given for {what} any more.", ephemeral=True)
            return
        if role.is_default() or role.managed:
            raise UserError(f"I can't give {role.mention}: it is managed by Discord or an integration. "
                            "Pick a role you created.")
        await set_milestone_role(self.bot.db, guild_id, key, role.id)
        text = f"✅ Members get {role.mention} for {what}."
        if not guild.me.guild_permissions.manage_roles:
            text += "\n⚠️ I don't have the Manage Roles permission yet, so I can't give it until you grant it."
        elif role >= guild.me.top_role:
            text += (f"\n⚠️ {role.mention} is not below my highest role, so Discord won't let me give it. "
                     "Drag my role above it in Server Settings → Roles.")
        await interaction.response.send_message(text, ephemeral=True)

    @app_commands.command(name="cohort", description="A shared schedule: /progress then says who is on pace")
    @app_commands.describe(start="First day, YYYY-MM-DD (or 'off' to remove the cohort)",
                           pace="Steps per week, such as 5 (the plan must be done within 10 years)",
                           track="Whose cohort (default: the bundled plan's)")
    @admin_only
    async def cohort(self, interaction: discord.Interaction, start: app_commands.Range[str, 1, 40],
                     pace: app_commands.Range[float, PACE_MIN, PACE_MAX] = 5.0,
                     track: app_commands.Range[str, 1, 100] | None = None) -> None:
        guild_id, _ = await self._tz_guild(interaction)
        chosen = await self.bot.tracks.find(guild_id, track) if track else self.bot.tracks.bundled
        if start.strip().casefold() == "off":
            await set_cohort(self.bot.db, guild_id, None, plan_id=chosen.plan_id)
            await interaction.response.send_message("The cohort schedule is removed.", ephemeral=True)
            return
        total = chosen.plan.total
        tz = await get_guild_timezone(self.bot.db, guild_id, self.bot.settings.tz)
        cohort = parse_cohort(start, pace, total, local_date(self.bot.clock(), tz))
        end = cohort.end(total)  # within 10 years: parse_cohort makes sure
        await set_cohort(self.bot.db, guild_id, cohort, plan_id=chosen.plan_id)
        await interaction.response.send_message(
            f"✅ Cohort from {cohort.start.isoformat()} at {cohort.pace:g} steps a week: all {total} steps by "
            f"{end.isoformat() if end else '?'}. `/progress` now tells each member whether they are on pace.",
            ephemeral=True)

    # ------------------------------------------------------------------ /config plan ...

    @plan.command(name="upload", description="Add a plan as a track, or a new version of one (a Markdown checklist)")
    @app_commands.describe(file="A .md file: '## Phase' headings (optional) and '- [ ] N. Title (Exercise)' lines",
                           name="The track's name members pick it by (the same name updates that plan)")
    @admin_only
    async def plan_upload(self, interaction: discord.Interaction, file: discord.Attachment,
                          name: app_commands.Range[str, 1, 50]) -> None:
        guild_id, _ = await self._tz_guild(interaction)
        if file.size > MAX_BYTES:  # refused before downloading anything
            raise UserError(f"`{escape(file.filename)[:80]}` is {file.size / 1024:.0f} KB; a plan may be at most "
                            f"{MAX_BYTES // 1024} KB.")
        await interaction.response.defer(ephemeral=True, thinking=True)  # the download can take a moment
        data = await file.read()
        try:
            preview = await self.plans.prepare(guild_id, name, data, file.filename)
        except PlanError as error:
            await interaction.followup.send(embed=upload_problems_embed(file.filename, error.problems),
                                            ephemeral=True)
            return
        owner = interaction.user.id

        async def confirmed(click: discord.Interaction) -> None:
            if not click.permissions.manage_guild:  # checked again: permissions can change within the minutes
                raise UserError("Storing a plan needs the Manage Server permission.")
            track, moved = await self.plans.store(guild_id, preview, self.bot.clock(), click.user.id)
            await click.response.edit_message(content=stored_message(track, preview, moved), embed=None, view=None)

        embed = upload_preview_embed(preview.plan, preview.name, version=preview.version, diff=preview.diff,
                                     affected_members=preview.affected, repairs=preview.repairs)
        if preview.diff is not None and preview.diff.unchanged:  # the same plan again: nothing to confirm
            await interaction.followup.send(embed=embed, ephemeral=True)
            return
        view = ConfirmView(owner, confirmed, confirm_label="Confirm", timeout=CONFIRM_SECONDS)
        view.original = interaction
        await interaction.followup.send(embed=embed, view=view, ephemeral=True)

    @plan.command(name="list", description="The server's tracks: versions, steps, members, the default")
    @admin_only
    async def plan_list(self, interaction: discord.Interaction) -> None:
        guild_id, _ = await self._tz_guild(interaction)
        await interaction.response.send_message(embed=plans_list_embed(await self.plans.listing(guild_id)),
                                                ephemeral=True)

    @plan.command(name="default", description="The track new members start on")
    @app_commands.describe(name="A track (start typing)")
    @admin_only
    async def plan_default(self, interaction: discord.Interaction, name: app_commands.Range[str, 1, 100]) -> None:
        guild_id, _ = await self._tz_guild(interaction)
        track = await self.plans.set_default(guild_id, name)
        await interaction.response.send_message(
            f"✅ New members now start on **{escape(track.name)}** ({track.plan.total} steps). Members who "
            "already follow a track keep theirs; anyone can change with `/track switch`.", ephemeral=True)

    @plan.command(name="remove", description="Remove a track; its members' progress is archived, never deleted")
    @app_commands.describe(name="A track (start typing)")
    @admin_only
    async def plan_remove(self, interaction: discord.Interaction, name: app_commands.Range[str, 1, 100]) -> None:
        guild_id, _ = await self._tz_guild(interaction)
        track, followers, target = await self.plans.removal(guild_id, name)
        label = escape(track.name)
        if followers == 0:
            await self.plans.remove(guild_id, track, target, self.bot.clock())
            await interaction.response.send_message(f"✅ **{label}** is removed; nobody followed it.",
                                                    ephemeral=True)
            return

        async def confirmed(click: discord.Interaction) -> None:
            if not click.permissions.manage_guild:
                raise UserError("Removing a plan needs the Manage Server permission.")
            moved = await self.plans.remove(guild_id, track, target, self.bot.clock())
            await click.response.edit_message(
                content=f"✅ **{label}** is removed. {moved} member{'' if moved == 1 else 's'} moved to "
                        f"**{escape(target.name)}**; their progress on {label} is archived, not deleted.",
                embed=None, view=None)

        view = ConfirmView(interaction.user.id, confirmed, confirm_label=f"Remove {track.name}"[:80], danger=True,
                           timeout=CONFIRM_SECONDS)
        await interaction.response.send_message(
            f"**{followers}** member{'' if followers == 1 else 's'} follow **{label}**. Removing it moves them to "
            f"**{escape(target.name)}** and archives their progress on {label} (kept, not deleted). Remove it?",
            view=view, ephemeral=True)
        view.original = interaction

    @plan_default.autocomplete("name")
    @plan_remove.autocomplete("name")
    @milestone_role.autocomplete("track")
    @cohort.autocomplete("track")
    async def plan_name_autocomplete(self, interaction: discord.Interaction,
                                     current: str) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None:
            return []
        return track_choices(await self.bot.tracks.tracks(interaction.guild_id), current)

    async def _role_labels(self, guild_id: int, roles: dict[int, int]) -> dict[int, str]:
        """How /config show names each milestone role's milestone: the phase, and the track when it is not the
        bundled plan's (keys of own plans' phases are bot.domain.tracks.milestone_key)."""
        names = {t.plan_id: t.name for t in await self.bot.tracks.tracks(guild_id)}
        labels = {}
        for key in roles:
            plan_id, phase = milestone_phase(key)
            what = "Whole plan" if phase == 0 else f"Phase {phase}"
            labels[key] = what if plan_id == 0 else f"{escape(names.get(plan_id, 'a removed track'))}: {what}"
        return labels

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
            role_labels=await self._role_labels(guild_id, settings.roles),
        )
        await interaction.response.send_message(embed=embed, ephemeral=True)


async def setup(bot: StepwiseBot) -> None:
    await bot.add_cog(Config(bot))
