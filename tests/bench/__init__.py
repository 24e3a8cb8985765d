"""Benchmarks run by ``make bench``: printed figures, each a ratio against an in-run baseline."""

from __future__ import annotations

import math
import os
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

PG_ADMIN_URL = os.environ.get(
    "GONGKAI_BENCH_PG_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres"
)
BENCH_DATABASE = "gongkai_bench"


@dataclass(frozen=True, slots=True)
class Figure:
    """One line of the closing summary table."""

    bench: str
    name: str
    value: str
    target: str = ""
    verdict: str = ""


def verdict(met: bool) -> str:
    """The word printed beside a target."""
    return "met" if met else "NOT met"


def bench_url() -> str:
    """The URL of the dedicated benchmark database on the admin URL's server."""
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{BENCH_DATABASE}"


async def reset_bench_database() -> str:
    """Create ``gongkai_bench`` if missing, empty its public schema, and return its URL."""
    admin = await asyncpg.connect(PG_ADMIN_URL, timeout=10)
    try:
        exists = await admin.fetchval(
            "SELECT 1 FROM pg_database WHERE datname = $1", BENCH_DATABASE
        )
        if not exists:
            await admin.execute(f'CREATE DATABASE "{BENCH_DATABASE}"')
    finally:
        await admin.close()
    conn = await asyncpg.connect(bench_url(), timeout=10)
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()
    return bench_url()


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of ``values`` (``fraction`` 0.5 is the median)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    """The median of ``values``."""
    return float(statistics.median(values))


def print_table(figures: Sequence[Figure]) -> None:
    """Print the figures as one aligned table."""
    header = Figure("bench", "figure", "value", "target", "verdict")
    rows = [header, *figures]
    widths = [max(len(str(getattr(r, f))) for r in rows) for f in Figure.__slots__]
    for row in rows:
        cells = [
            str(getattr(row, f)).ljust(w) for f, w in zip(Figure.__slots__, widths, strict=True)
        ]
        print("  ".join(cells).rstrip())
