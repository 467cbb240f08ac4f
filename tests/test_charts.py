"""bot.ui.charts: the progress chart renders a PNG for any series, also from several threads at once."""

from __future__ import annotations

import asyncio
import warnings
from datetime import UTC, datetime, timedelta

import pytest

from bot.ui.charts import progress_chart

T = datetime(2026, 1, 1, tzinfo=UTC)
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("span_days", [0, 0.01, 1, 3, 9, 40, 400, 1500])
def test_chart_is_a_png_for_any_span(span_days: float) -> None:
    series = [(T + timedelta(days=span_days * i / 5), i + 1) for i in range(6)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns when it cannot place date ticks
        data = progress_chart(series, 80, "alice: steps done over time")
    assert data.startswith(PNG)
    assert 5_000 < len(data) < 200_000


def test_chart_of_an_empty_series_still_renders() -> None:
    assert progress_chart([], 80, "nobody").startswith(PNG)


async def test_charts_render_in_parallel_threads() -> None:
    series = [(T + timedelta(days=i), i + 1) for i in range(30)]
    charts = await asyncio.gather(*(asyncio.to_thread(progress_chart, series, 80, f"m{i}") for i in range(6)))
    assert all(c.startswith(PNG) for c in charts)
