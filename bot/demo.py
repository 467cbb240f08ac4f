"""The offline demo: the real bot in SimCord's browser preview (filled in below)."""

from __future__ import annotations

from bot.config import Settings


async def run_demo(settings: Settings, *, port: int, wait: bool = True) -> None:
    raise NotImplementedError
