"""/data export|import|forget|privacy: a member's own data, to take away, bring back, delete or hide."""

from __future__ import annotations

import io
from collections.abc import Sequence

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import StepwiseBot
from bot.domain.errors import UserError
from bot.domain.export import (
    MAX_FILE_BYTES,
    ImportedStep,
    ImportPlan,
    export_origin,
    format_export,
    parse_export,
    plan_import,
)
from bot.domain.progress import MemberProgress
from bot.domain.tracks import Track
from bot.ui import data_views
from bot.ui.progress_views import ConfirmView
from db.progress import StepChange, forget_member, load_member, set_visible
from db.track_reads import change_on_track

CONFIRM_SECONDS = 300


@app_commands.guild_only()
class Data(commands.GroupCog, group_name="data", group_description="Your data: export, import, forget, privacy"):
    """Take your progress with you, bring it back, delete it, or hide it."""

    help_title = "Your data"

    def __init__(self, bot: StepwiseBot) -> None:
        self.bot = bot
        super().__init__()

    @app_commands.command(name="export", description="Download your progress as a Markdown checklist")
    async def export(self, interaction: discord.Interaction) -> None:
        guild_id = interaction.guild_id or 0
        track = await self.bot.tracks.current(guild_id, interaction.user.id)
        member = await load_member(self.bot.db, guild_id, interaction.user.id)
        where = interaction.guild.name if interaction.guild else "this server"
        text = format_export(track.plan, member.states, interaction.user.name, where, self.bot.clock(),
                             plan_id=track.plan_id, version=track.version, track=track.name)
        named = track.name if await self.bot.tracks.has_own(guild_id) else None
        file = discord.File(io.BytesIO(text.encode("utf-8")), filename=data_views.export_filename(where, named))
        await interaction.response.send_message(data_views.export_message(track.plan, member), file=file,
                                                ephemeral=True)

    @app_commands.command(name="import", description="Bring back progress from a file /data export gave you")
    @app_commands.describe(file="The .md file from /data export (you may tick boxes and edit notes in it)")
    async def import_(self, interaction: discord.Interaction, file: discord.Attachment) -> None:
        if file.size > MAX_FILE_BYTES:
            raise UserError(f"That file is {file.size // 1024} KB; a progress export is a few KB (at most "
                            f"{MAX_FILE_BYTES // 1024} KB). Attach the file `/data export` gave you.")
        guild_id = interaction.guild_id or 0
        data = await file.read()
        track = await self.bot.tracks.current(guild_id, interaction.user.id)
        origin = export_origin(data)
        if origin is not None and origin.plan_id != track.plan_id:
            source = await self.bot.tracks.get(guild_id, origin.plan_id)
            raise UserError(data_views.other_plan_message(origin, source, track))
        try:
            imported = parse_export(track.plan, data, self.bot.clock())
        except UserError as error:
            if origin is None or origin.version in (None, track.version):
                raise
            raise UserError(f"{error.message}\n{data_views.older_version_line(origin, track)}") from None
        member = await load_member(self.bot.db, guild_id, interaction.user.id)
        summary = plan_import(member.states, imported)
        if not summary.changes:
            await interaction.response.send_message(
                f"That file matches your progress already ({len(imported)} steps): nothing to import.",
                ephemeral=True)
            return
        view = self._import_view(interaction, track, imported, summary, file.filename)
        await interaction.response.send_message(embed=data_views.import_summary_embed(track.plan, summary,
                                                                                      file.filename),
                                                view=view, ephemeral=True)

    def _import_view(self, original: discord.Interaction, track: Track, imported: list[ImportedStep],
                     summary: ImportPlan, filename: str) -> ConfirmView:
        """Import / Cancel for `summary`. Import applies exactly the previewed changes, in one transaction, and
        only while the previewed steps are as they were (and the member is still on `track`); if they changed
        since, it shows the new preview instead."""
        guild_id, user_id = original.guild_id or 0, original.user.id

        async def confirmed(click: discord.Interaction) -> None:
            fresh: list[ImportPlan] = []

            def decide(member: MemberProgress) -> list[StepChange]:
                if not summary.still_current(member.states):
                    fresh.append(plan_import(member.states, imported))
                    return []
                return _changes(summary.items)

            result = await change_on_track(self.bot.db, guild_id, user_id, decide, self.bot.clock(),
                                           plan_id=track.plan_id, default_tz=self.bot.settings.tz)
            if fresh:
                await self._ask_again(click, original, track, imported, fresh[0], filename=filename)
                return
            if result.changed:
                self.bot.dispatch("progress_changed", guild_id, user_id, result)
            await click.response.edit_message(content=None, embed=data_views.imported_embed(
                track.plan, result.after.done_count, len(result.changed)),
                                              view=None)

        view = ConfirmView(user_id, confirmed, confirm_label="Import", timeout=CONFIRM_SECONDS)
        view.original = original
        return view

    async def _ask_again(self, click: discord.Interaction, original: discord.Interaction, track: Track,
                         imported: list[ImportedStep], summary: ImportPlan, *, filename: str) -> None:
        if not summary.changes:
            await click.response.edit_message(content=data_views.import_moot_message(len(imported)), embed=None,
                                              view=None)
            return
        await click.response.edit_message(
            content=data_views.IMPORT_CHANGED, view=self._import_view(original, track, imported, summary, filename),
            embed=data_views.import_summary_embed(track.plan, summary, filename))

    @app_commands.command(name="forget", description="Delete everything Stepwise stores about you in this server")
    async def forget(self, interaction: discord.Interaction) -> None:
        guild_id, user_id = interaction.guild_id or 0, interaction.user.id
        track = await self.bot.tracks.current(guild_id, user_id)
        member = await load_member(self.bot.db, guild_id, user_id)

        async def confirmed(click: discord.Interaction) -> None:
            result = await forget_member(self.bot.db, guild_id, user_id)
            if result.changed:
                self.bot.dispatch("progress_changed", guild_id, user_id, result)
            await click.response.edit_message(content=data_views.forgotten_message(len(result.before.states)),
                                              embed=None, view=None)

        view = ConfirmView(user_id, confirmed, confirm_label="Delete my data", danger=True, timeout=CONFIRM_SECONDS)
        await interaction.response.send_message(embed=data_views.forget_embed(track.plan, member), view=view,
                                                ephemeral=True)
        view.original = interaction

    @app_commands.command(name="privacy", description="Show or hide yourself on leaderboards and others' /progress")
    @app_commands.describe(visible="True: others can see your progress; False: only you can")
    async def privacy(self, interaction: discord.Interaction, visible: bool) -> None:
        changed = await set_visible(self.bot.db, interaction.guild_id or 0, interaction.user.id, visible,
                                    self.bot.clock())
        await interaction.response.send_message(data_views.privacy_message(visible, changed), ephemeral=True)


def _changes(imported: Sequence[ImportedStep]) -> list[StepChange]:
    return [StepChange(i.step, i.status, i.note, i.done_at) for i in imported]


async def setup(bot: StepwiseBot) -> None:
    await bot.add_cog(Data(bot))

