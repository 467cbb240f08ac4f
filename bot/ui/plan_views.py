"""Embeds and buttons for browsing the plan."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import discord

from bot.domain.errors import UserError
from bot.domain.plan import Phase, Plan, Step
from bot.domain.progress import Status
from bot.tree import send_ephemeral
from bot.ui.components import AnsweredButton, AnsweredView
from bot.ui.pager import Page, page_slice, show_page

BRAND = discord.Colour(0x5B8DEF)
SUCCESS = discord.Colour(0x3BA55D)
MAX_CHOICES = 25
PHASES_PER_PAGE = 8
RESULTS_PER_PAGE = 8
STATUS_LABEL = {
    Status.DONE: "✅ Done",
    Status.SKIPPED: "⏭️ Skipped",
    Status.IN_PROGRESS: "🔄 In progress",
}


def bar(done: int, total: int, width: int = 10) -> str:
    """A text progress bar: `▰▰▰▱▱▱▱▱▱▱`."""
    filled = 0 if total <= 0 else round(width * done / total)
    return "▰" * filled + "▱" * (width - filled)


_LIST_START = re.compile(r"^(\s*\d+)\.(?=\s|$)", re.MULTILINE)


def no_list(text: str) -> str:
    """`3. Title` as itself: a line starting with a number and a dot is an ordered list in Discord's Markdown,
    renumbered from 1 (and escape_markdown leaves it alone). `3\\.` shows as `3.`."""
    return _LIST_START.sub(r"\1\\.", text)


def escape(text: str) -> str:
    """Member or plan text shown as text: no Markdown (ordered lists included), no mentions.

    escape_markdown alone reads `[…](…)` as a masked link and escapes only its first `[`, leaving Markdown
    inside it live (`[ **x** [a](b)` showed bold), and that pattern is cubic in the text's length. Escaping the
    pieces between `[` characters, then joining them with `\\[`, leaves no masked link to find.
    """
    markdown = "\\[".join(discord.utils.escape_markdown(piece) for piece in text.split("["))
    return no_list(discord.utils.escape_mentions(markdown))


def step_embed(plan: Plan, step: Step, status: Status | None = None, note: str | None = None) -> discord.Embed:
    phase = plan.phase_of(step.number)
    embed = discord.Embed(title=f"Step {step.number} of {plan.total}: {escape(step.title)}"[:256], colour=BRAND)
    embed.add_field(name="Exercise", value=escape(step.exercise)[:1024], inline=False)
    embed.add_field(name=f"Phase {phase.number} of {len(plan.phases)}",
                    value=f"{escape(phase.name)} (steps {phase.range_label})"[:1024])
    embed.add_field(name="Your status", value=STATUS_LABEL.get(status, "Not started") if status else "Not started")
    if note:
        embed.add_field(name="Your note", value=escape(note)[:1024], inline=False)
    embed.set_footer(text=plan.title)
    return embed


class StepNavButton(AnsweredButton, template=r"sw:step:(?P<owner>\d+):(?P<n>\d+)(?::(?P<plan>\d+))?"):
    """◀ / ▶ under a step: shows step n to the member who asked (persistent: works after restarts).

    The custom id names the track the step belongs to (`:<plan id>`, left out for the bundled plan, as buttons
    made before tracks were), so a button made before a switch answers instead of showing another plan's step."""

    def __init__(self, owner: int, number: int, *, plan_id: int = 0, label: str = "\u200b",
                 disabled: bool = False) -> None:
        suffix = f":{plan_id}" if plan_id else ""
        super().__init__(discord.ui.Button(custom_id=f"sw:step:{owner}:{number}{suffix}", label=label,
                                           style=discord.ButtonStyle.secondary, disabled=disabled))
        self.owner, self.number, self.plan_id = owner, number, plan_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> StepNavButton:
        return cls(int(match["owner"]), int(match["n"]), plan_id=int(match["plan"] or 0))

    async def allowed(self, interaction: discord.Interaction, /) -> bool:
        if interaction.user.id != self.owner:
            await send_ephemeral(interaction, f"Run `/plan step number:{self.number}` to browse the plan yourself.")
            return False
        return True

    async def clicked(self, interaction: discord.Interaction, /) -> None:
        client: Any = interaction.client
        cog = client.get_cog("Plan")
        if cog is None:
            raise UserError("Browsing the plan is not available right now. Try again in a minute.")
        embed, view, private = await cog.render_step(interaction, self.number, plan_id=self.plan_id)
        await show_page(interaction, embed, view, private=private)


def step_nav(plan: Plan, owner: int, step: Step, plan_id: int = 0) -> discord.ui.View:
    view = AnsweredView(timeout=None)
    before, after = plan.before(step.number), plan.after(step.number)
    # Navigation words, as on the pager: "◀ Start" under step 1 read like the /start command.
    view.add_item(StepNavButton(owner, before.number if before else step.number, plan_id=plan_id,
                                label="◀ Previous", disabled=before is None))
    view.add_item(StepNavButton(owner, after.number if after else step.number, plan_id=plan_id,
                                label="Next ▶", disabled=after is None))
    return view


def overview_page(plan: Plan, done_per_phase: Sequence[tuple[Phase, int]], index: int, who: str) -> Page:
    index, count, start = page_slice(len(done_per_phase), index, PHASES_PER_PAGE)
    done_total = sum(done for _, done in done_per_phase)
    embed = discord.Embed(
        title=f"{escape(plan.title)}: {plan.total} steps in {len(plan.phases)} phases"[:256],
        description=f"{escape(who)}: **{done_total}/{plan.total}** steps done {bar(done_total, plan.total)}",
        colour=BRAND,
    )
    for phase, done in done_per_phase[start : start + PHASES_PER_PAGE]:
        check = " ✅" if done == len(phase.steps) else ""
        embed.add_field(
            name=f"Phase {phase.number} · {escape(phase.name)}{check}"[:256],
            value=f"Steps {phase.range_label} · {done}/{len(phase.steps)} done {bar(done, len(phase.steps), 8)}",
            inline=False,
        )
    embed.set_footer(text="Open a step with /plan step · find one with /plan search")
    return Page(embed, index, count)


EMBED_TOTAL = 6000  # Discord's limit for all the text of one embed


def _clip(text: str, limit: int) -> str:
    """text within `limit` characters, ending in '…' when cut (never on a lone escaping backslash)."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if (len(cut) - len(cut.rstrip("\\"))) % 2:
        cut = cut[:-1]
    return cut + "…"


def search_page(plan: Plan, query: str, results: Sequence[Step], statuses: Mapping[int, Status],
                index: int) -> Page:
    index, count, start = page_slice(len(results), index, RESULTS_PER_PAGE)
    shown = escape(query)
    if not results:
        embed = discord.Embed(
            title=f"No step matches “{shown}”",
            description="Try a shorter word or another spelling, for example `sql`, `auth` or `docker`. "
                        "`/plan overview` lists every phase.",
            colour=BRAND,
        )
        return Page(embed, 0, 1)
    embed = discord.Embed(title=f"{len(results)} step{'s' if len(results) != 1 else ''} match “{shown}”"[:256],
                          colour=BRAND)
    embed.set_footer(text="Open one with /plan step")
    shown_steps = results[start : start + RESULTS_PER_PAGE]
    # An uploaded plan's exercises may be 1,000 characters: eight full fields would pass Discord's 6,000 for the
    # whole embed (the member got an error), so each result gets its share of what is left.
    share = (EMBED_TOTAL - len(embed)) // max(1, len(shown_steps))
    for step in shown_steps:
        status = f"{STATUS_LABEL[statuses[step.number]]} · " if step.number in statuses else ""
        name = f"Step {step.number} · {escape(step.title)}"[:256]
        embed.add_field(name=name, value=_clip(f"{status}Exercise: {escape(step.exercise)}",
                                               min(1024, share - len(name))), inline=False)
    return Page(embed, index, count)


def step_choices(plan: Plan, current: str) -> list[discord.app_commands.Choice[int]]:
    """Autocomplete for a step number: by number prefix, or by words of the title or exercise."""
    text = current.strip()
    if not text:
        matches = list(plan.steps)
    elif text.isdigit():
        matches = [s for s in plan.steps if str(s.number).startswith(text)]
    else:
        matches = plan.search(text)
    return [discord.app_commands.Choice(name=f"{s.number}. {s.title}"[:100], value=s.number)
            for s in matches[:MAX_CHOICES]]
