"""The /help embed, built from the command tree so it grows with every cog."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import discord
from discord import app_commands

from bot.ui.plan_views import BRAND

FIELD_LIMIT = 1024


@dataclass(frozen=True, slots=True)
class HelpSection:
    title: str
    description: str
    lines: tuple[str, ...]


def command_lines(commands: Iterable[app_commands.Command | app_commands.Group]) -> list[str]:
    """One line per slash command, subcommands flattened: '`/plan step` · Show one step'."""
    lines: list[str] = []
    for command in commands:
        if isinstance(command, app_commands.Group):
            admin = command.default_permissions is not None
            for sub in command.walk_commands():
                if isinstance(sub, app_commands.Command):
                    lines.append(_line(sub, admin))
        else:
            lines.append(_line(command, command.default_permissions is not None))
    return lines


def _line(command: app_commands.Command, admin: bool) -> str:
    options = " ".join(f"`{p.name}`" if p.required else f"`[{p.name}]`" for p in command.parameters)
    suffix = " *(admins)*" if admin else ""
    return f"**/{command.qualified_name}** {options} · {command.description}{suffix}".replace("  ", " ")


def help_embed(plan_title: str, total_steps: int, sections: Sequence[HelpSection]) -> discord.Embed:
    embed = discord.Embed(
        title="Stepwise: your study companion",
        description=(
            f"I walk this server through **{discord.utils.escape_markdown(plan_title)}**, {total_steps} steps, each "
            "a topic and a hands-on "
            "exercise. Browse the plan, mark your progress, get a daily reminder, and see everyone move "
            "on the leaderboard. Start with `/plan next`."
        ),
        colour=BRAND,
    )
    for section in sections:
        # Discord's field limit is 1,024 characters: a long section continues in the next field, whole lines only
        chunks: list[list[str]] = [[]]
        for raw in section.lines:
            line = raw if len(raw) <= FIELD_LIMIT else raw[:FIELD_LIMIT - 1] + "…"
            if chunks[-1] and len("\n".join([*chunks[-1], line])) > FIELD_LIMIT:
                chunks.append([])
            chunks[-1].append(line)
        for index, chunk in enumerate(chunks):
            name = section.title if index == 0 else f"{section.title} (continued)"
            embed.add_field(name=name, value="\n".join(chunk) or section.description, inline=False)
    embed.set_footer(text="Options in [brackets] are optional. Replies only you can see are marked 'Only you'.")
    return embed
