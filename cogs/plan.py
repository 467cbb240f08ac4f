"""/plan: browse the learning plan."""

from __future__ import annotations

from dataclasses import replace

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import StepwiseBot
from bot.domain.errors import UserError
from bot.domain.progress import current_step, phase_done_counts
from bot.domain.tracks import Track
from bot.ui.pager import Page, pager_view
from bot.ui.plan_views import escape, overview_page, search_page, step_choices, step_embed, step_nav
from bot.ui.track_views import stale_message, tag_arg, untag_arg
from db.progress import load_member


class Plan(commands.GroupCog, group_name="plan", group_description="Browse the learning plan"):
    """Browse the plan: phases, steps, search, and your next step."""

    help_title = "Browse the plan"

    def __init__(self, bot: StepwiseBot) -> None:
        self.bot = bot
        super().__init__()

    async def cog_load(self) -> None:
        self.bot.page_sources["overview"] = self._overview_source
        self.bot.page_sources["search"] = self._search_source

    async def cog_unload(self) -> None:
        self.bot.page_sources.pop("overview", None)
        self.bot.page_sources.pop("search", None)

    # ------------------------------------------------------------------ helpers

    async def _track(self, interaction: discord.Interaction, made_for: int | None, command: str) -> Track:
        """The caller's track; a UserError when a button made for another track (`made_for`) was pressed."""
        guild_id = interaction.guild_id
        track = await self.bot.tracks.current(guild_id, interaction.user.id)
        if made_for is not None and made_for != track.plan_id:
            old = await self.bot.tracks.get(guild_id, made_for) if guild_id is not None else None
            raise UserError(stale_message(old, track, command))
        return track

    async def render_step(self, interaction: discord.Interaction, number: int,
                          plan_id: int | None = None) -> tuple[discord.Embed, discord.ui.View, bool]:
        """The step with the caller's status and note, its buttons, and whether it is private (caller hidden).
        `plan_id`: the track a button showing it was made for (refused when the caller is on another now)."""
        track = await self._track(interaction, plan_id, f"/plan step number:{number}")
        plan = track.plan
        step = plan.require(number)
        member = await load_member(self.bot.db, interaction.guild_id or 0, interaction.user.id)
        state = member.states.get(step.number)
        embed = step_embed(plan, step, state.status if state else None, state.note if state else None)
        return embed, step_nav(plan, interaction.user.id, step, track.plan_id), not member.visible

    async def _overview_source(self, interaction: discord.Interaction, owner: int, index: int, arg: str) -> Page:
        made_for, _ = untag_arg(arg)
        return await self._overview(interaction, owner, index, await self._track(interaction, made_for,
                                                                                 "/plan overview"))

    async def _overview(self, interaction: discord.Interaction, owner: int, index: int, track: Track) -> Page:
        member = await load_member(self.bot.db, interaction.guild_id or 0, owner)
        counts = phase_done_counts(track.plan, member.done)
        who = interaction.user.display_name if interaction.user.id == owner else "You"
        return replace(overview_page(track.plan, counts, index, who), private=not member.visible)

    async def _search_source(self, interaction: discord.Interaction, owner: int, index: int, arg: str) -> Page:
        made_for, query = untag_arg(arg)
        return await self._search(interaction, owner, index, query,
                                  await self._track(interaction, made_for, "/plan search"))

    async def _search(self, interaction: discord.Interaction, owner: int, index: int, query: str,
                      track: Track) -> Page:
        member = await load_member(self.bot.db, interaction.guild_id or 0, owner)
        statuses = {n: s.status for n, s in member.states.items()}
        page = search_page(track.plan, query, track.plan.search(query), statuses, index)
        return replace(page, private=not member.visible)

    # ------------------------------------------------------------------ commands

    @app_commands.command(name="overview", description="The phases of the plan and how far you are in each")
    async def overview(self, interaction: discord.Interaction) -> None:
        track = await self._track(interaction, None, "/plan overview")
        page = await self._overview(interaction, interaction.user.id, 0, track)
        view = pager_view("overview", interaction.user.id, page, tag_arg(track.plan_id))
        await interaction.response.send_message(embed=page.embed, view=view, ephemeral=page.private)

    @app_commands.command(name="step", description="Show one step: its topic, exercise and phase")
    @app_commands.describe(number="The step number, or type words of its title or exercise")
    async def step(self, interaction: discord.Interaction, number: int) -> None:
        embed, view, private = await self.render_step(interaction, number)
        await interaction.response.send_message(embed=embed, view=view, ephemeral=private)

    @step.autocomplete("number")
    async def step_autocomplete(self, interaction: discord.Interaction,
                                current: str) -> list[app_commands.Choice[int]]:
        track = await self.bot.tracks.current(interaction.guild_id, interaction.user.id)
        return step_choices(track.plan, current)

    @app_commands.command(name="search", description="Find steps whose title or exercise mention some words")
    @app_commands.describe(query="Words to look for, such as 'docker' or 'sql joins'")
    async def search(self, interaction: discord.Interaction,
                     query: app_commands.Range[str, 1, 50]) -> None:
        if not query.strip():
            raise UserError("Type at least one word to search for, for example `docker`.")
        track = await self._track(interaction, None, "/plan search")
        page = await self._search(interaction, interaction.user.id, 0, query.strip(), track)
        view = pager_view("search", interaction.user.id, page, tag_arg(track.plan_id, query.strip()))
        await interaction.response.send_message(embed=page.embed, view=view, ephemeral=page.private)

    @app_commands.command(name="next", description="Your next step in the plan")
    async def next(self, interaction: discord.Interaction) -> None:
        track = await self._track(interaction, None, "/plan next")
        plan = track.plan
        member = await load_member(self.bot.db, interaction.guild_id or 0, interaction.user.id)
        step = current_step(plan, member.states)
        if step is None:
            await interaction.response.send_message(
                f"🎉 You have finished all {plan.total} steps of the plan. "
                "Try `/progress` to see the whole journey.", ephemeral=True)
            return
        state = member.states.get(step.number)
        embed = step_embed(plan, step, state.status if state else None, state.note if state else None)
        embed.title = f"Your next step: {step.number}. {escape(step.title)}"[:256]
        await interaction.response.send_message(
            embed=embed, view=step_nav(plan, interaction.user.id, step, track.plan_id), ephemeral=True)


async def setup(bot: StepwiseBot) -> None:
    await bot.add_cog(Plan(bot))
