"""Pagination with buttons that outlive restarts.

A paged reply carries its state in the buttons' custom ids
(`sw:pg:<kind>:<owner>:<page>:<dir>:<arg>`), so no view is held in memory and
no timeout has to fire: a click re-reads the data and redraws that page. Each
kind of paged list registers a `PageSource` on the bot (`bot.page_sources`).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import discord

from bot.domain.paging import clamp as clamp  # noqa: PLC0414 - re-exported: the arithmetic lives in bot.paging
from bot.domain.paging import page_slice as page_slice  # noqa: PLC0414
from bot.tree import send_ephemeral
from bot.ui.components import AnsweredButton, AnsweredView

CUSTOM_ID_LIMIT = 100


@dataclass(frozen=True, slots=True)
class Page:
    embed: discord.Embed
    index: int  # 0-based, already clamped to the available pages
    count: int  # how many pages there are (at least 1)
    private: bool = False  # shows a hidden member's own progress: only ever in an ephemeral message


PageSource = Callable[[discord.Interaction, int, int, str], Awaitable[Page]]
"""(interaction, owner_id, requested page, arg) -> the page to show."""


async def show_page(interaction: discord.Interaction, embed: discord.Embed, view: discord.ui.View, *,
                    private: bool) -> None:
    """A button's new page, in place; but never into a public message when it shows a hidden member's progress
    (they hid after posting it): then as a new ephemeral reply, and the public message stays as it was."""
    message = interaction.message
    if private and (message is None or not message.flags.ephemeral):
        await interaction.response.send_message(embed=embed, view=view, ephemeral=True)
        return
    await interaction.response.edit_message(embed=embed, view=view)


class HasPageSources(Protocol):
    page_sources: dict[str, PageSource]


def _custom_id(kind: str, owner: int, page: int, direction: str, arg: str) -> str:
    custom_id = f"sw:pg:{kind}:{owner}:{page}:{direction}:{arg}"
    return custom_id[:CUSTOM_ID_LIMIT]


def pager_view(kind: str, owner: int, page: Page, arg: str = "") -> discord.ui.View:
    """Previous / 'n of m' / next buttons for `page`; no buttons when everything fits on one page."""
    view = AnsweredView(timeout=None)
    if page.count <= 1:
        return view
    view.add_item(PageButton(kind, owner, page.index - 1, "p", arg, label="◀ Previous", disabled=page.index == 0))
    view.add_item(PageButton(kind, owner, page.index, "x", arg, label=f"Page {page.index + 1} of {page.count}",
                             disabled=True))
    view.add_item(PageButton(kind, owner, page.index + 1, "n", arg, label="Next ▶",
                             disabled=page.index >= page.count - 1))
    return view


class PageButton(AnsweredButton,
                 template=r"sw:pg:(?P<kind>[a-z-]+):(?P<owner>\d+):(?P<page>-?\d+):(?P<dir>[pnx]):(?P<arg>.*)"):
    """Any pager button; registered once at start-up (bot.ui.registry)."""

    def __init__(self, kind: str, owner: int, page: int, direction: str, arg: str, *,
                 label: str = "\u200b", disabled: bool = False) -> None:
        super().__init__(discord.ui.Button(custom_id=_custom_id(kind, owner, page, direction, arg), label=label,
                                           style=discord.ButtonStyle.secondary, disabled=disabled))
        self.kind, self.owner, self.page, self.arg = kind, owner, page, arg

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> PageButton:
        return cls(match["kind"], int(match["owner"]), int(match["page"]), match["dir"], match["arg"])

    async def allowed(self, interaction: discord.Interaction, /) -> bool:
        if interaction.user.id != self.owner:
            await send_ephemeral(interaction, "These buttons belong to whoever ran the command: "
                                              "run it yourself to browse your own copy.")
            return False
        return True

    async def clicked(self, interaction: discord.Interaction, /) -> None:
        client: Any = interaction.client
        source: PageSource | None = getattr(client, "page_sources", {}).get(self.kind)
        if source is None:
            await send_ephemeral(interaction, "This list is no longer available: run the command again.")
            return
        page = await source(interaction, self.owner, self.page, self.arg)
        await show_page(interaction, page.embed, pager_view(self.kind, self.owner, page, self.arg),
                        private=page.private)
