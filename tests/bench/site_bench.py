"""The static site's cost per item: publishing the 1,000th item of one organization against
the 20th, through the channel's own prepare + commit (as the dispatcher calls them).

Each side is the median of a window of 11 publications around the 20th and the 1,000th
item; files and bytes written are read from the file system (what changed)."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import os
import statistics
import tempfile
import time
from pathlib import Path

from channels.base import Publishable
from channels.website import StaticWebsite
from tests.bench import Figure, verdict
from tests.bench.worker_bench import _pub

TARGET = 1.5
CATEGORIES = ("工作动态", "财政预决算", "社会救助", "规划建设", "农业农村")
WINDOW = 5  # items either side of the measured one


def _state(folder: Path) -> dict[str, tuple[int, int]]:
    found: dict[str, tuple[int, int]] = {}
    for root, _dirs, files in os.walk(folder):
        for name in files:
            info = os.stat(os.path.join(root, name))
            found[os.path.join(root, name)] = (info.st_mtime_ns, info.st_size)
    return found


def _item(n: int) -> Publishable:
    day = dt.date(2022, 1, 1) + dt.timedelta(days=n)  # spread over three years
    return dataclasses.replace(_pub(n), category=CATEGORIES[n % 5], publish_date=day)


async def _publish(site: StaticWebsite, n: int) -> float:
    pub = _item(n)
    started = time.perf_counter()
    await site.commit(pub, await site.prepare(pub))
    return time.perf_counter() - started


async def measure(items: int) -> dict[int, tuple[float, float, float]]:
    """For the 20th and the last item: (median seconds, files written, bytes written)."""
    folder = Path(tempfile.mkdtemp(prefix="gongkai-site-bench-"))
    site = StaticWebsite(folder / "site", base_url="http://127.0.0.1:8000/site")
    marks = {20, items}
    windows = {m: range(m - WINDOW, m + WINDOW + 1) for m in marks}
    timings: dict[int, list[float]] = {m: [] for m in marks}
    writes: dict[int, list[tuple[int, int]]] = {m: [] for m in marks}
    for n in range(1, items + WINDOW + 1):
        mark = next((m for m, w in windows.items() if n in w), None)
        if mark is None:
            await _publish(site, n)
            continue
        before = _state(folder)
        timings[mark].append(await _publish(site, n))
        after = _state(folder)
        changed = [p for p, v in after.items() if before.get(p) != v]
        writes[mark].append((len(changed), sum(after[p][1] for p in changed)))
    return {
        m: (
            statistics.median(timings[m]),
            statistics.median(w[0] for w in writes[m]),
            statistics.median(w[1] for w in writes[m]),
        )
        for m in marks
    }


def main(items: int) -> list[Figure]:
    """Publish ``items`` items to one organization's static site; print and return rows."""
    print(f"\n== site: the {items}th item against the 20th, one organization ==")
    found = asyncio.run(measure(items))
    (t20, f20, b20), (tn, fn, bn) = found[20], found[items]
    for label, (t, f, b) in (("20th", found[20]), (f"{items}th", found[items])):
        print(f"{label}: {t * 1000:.1f} ms, {f:.0f} files, {b / 1024:.0f} KB written")
    return [
        Figure(
            "site",
            f"{items}th item / 20th item (time)",
            f"{tn / t20:.2f} ({tn * 1000:.1f} vs {t20 * 1000:.1f} ms)",
            f"<= {TARGET}",
            verdict(tn / t20 <= TARGET),
        ),
        Figure(
            "site",
            f"{items}th item / 20th item (files, bytes)",
            f"{fn:.0f} vs {f20:.0f} files, {bn / 1024:.0f} vs {b20 / 1024:.0f} KB",
        ),
    ]
