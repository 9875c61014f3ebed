"""A bar chart of pages per day, laid out for an inline SVG (no JavaScript, no library)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

WIDTH, HEIGHT = 640, 220
LEFT, BOTTOM, TOP = 48, 28, 12


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    day: date
    pages: int


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    peak: int
    baseline: float


def pages_chart(per_day: dict[date, int], last: date, days: int = 14) -> Chart:
    """Bars for the ``days`` days ending with ``last``; missing days are zero."""
    series = [(last - timedelta(days=n), 0) for n in range(days - 1, -1, -1)]
    series = [(day, per_day.get(day, 0)) for day, _ in series]
    peak = max((pages for _, pages in series), default=0) or 1
    plot_height = HEIGHT - BOTTOM - TOP
    slot = (WIDTH - LEFT) / days
    bars = []
    for index, (day, pages) in enumerate(series):
        height = plot_height * pages / peak
        x = LEFT + index * slot + slot * 0.15
        bars.append(Bar(x, HEIGHT - BOTTOM - height, slot * 0.7, height, day, pages))
    return Chart(WIDTH, HEIGHT, bars, peak, HEIGHT - BOTTOM)
