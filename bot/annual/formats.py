"""Figures → document, in the format the user picks: the seed's narrative, 2019 or 2021."""

from __future__ import annotations

from typing import Literal

from bot.annual.document import Document
from bot.annual.figures import AnnualFigures
from bot.annual.format_national import render_national
from bot.annual.format_seed import render_seed

Format = Literal["seed", "2019", "2021"]
FORMATS: tuple[Format, ...] = ("seed", "2019", "2021")


def render(figures: AnnualFigures, fmt: Format) -> Document:
    """Render one organization's year in the given format; every number comes from figures."""
    if fmt == "seed":
        return render_seed(figures)
    if fmt in ("2019", "2021"):
        return render_national(figures, fmt)
    raise ValueError(f"unknown annual report format: {fmt!r}")
