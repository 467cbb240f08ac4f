"""Page arithmetic, without Discord: the pager (bot/ui/pager.py) and the database's one-hop reads share it."""

from __future__ import annotations


def clamp(index: int, count: int) -> int:
    return max(0, min(index, max(count, 1) - 1))


def page_slice(items_count: int, index: int, per_page: int) -> tuple[int, int, int]:
    """(clamped index, page count, start offset) for a list of `items_count` items."""
    count = max(1, -(-items_count // per_page))
    index = clamp(index, count)
    return index, count, index * per_page
