"""``python -m tests.bench [BENCH ...]``: run the benchmarks (all, or those named); print a
summary. Benches: worker, site, rss, console, soak, scale, outbox, ledger, wechat."""

from __future__ import annotations

import argparse
import asyncio
import time

from tests.bench import (
    Figure,
    console_bench,
    ledger_bench,
    outbox_bench,
    print_table,
    rss_bench,
    scale_bench,
    site_bench,
    soak,
    wechat_bench,
    worker_bench,
)

BENCHES = ("worker", "site", "rss", "console", "soak", "scale", "outbox", "ledger", "wechat")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command-line options."""
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__)
    parser.add_argument("benches", nargs="*", help=f"any of {', '.join(BENCHES)}; default: all")
    parser.add_argument("--only", choices=BENCHES, help="run one bench only")
    parser.add_argument(
        "--worker-items", type=int, default=1000, help="worker bench items (default 1000)"
    )
    parser.add_argument(
        "--site-items", type=int, default=1000, help="site bench: the item measured (1000)"
    )
    parser.add_argument(
        "--scale-rows", type=int, default=1_000_000, help="scale: ledger rows (1 M; issue: 10 M)"
    )
    parser.add_argument(
        "--soak-items", type=int, default=500, help="soak items, two deliveries each (500)"
    )
    parser.add_argument(
        "--console-seconds", type=float, default=30, help="console bench: seconds of load (30)"
    )
    parser.add_argument("--items", type=int, default=2000, help="outbox items (default 2000)")
    parser.add_argument(
        "--concurrency", type=int, default=4, help="deliveries at a time (default 4, as settings)"
    )
    parser.add_argument(
        "--ledger-rows", type=int, default=1_000_000, help="ledger rows (default 1,000,000)"
    )
    parser.add_argument(
        "--wechat-items", type=int, default=200, help="WeChat throughput items (default 200)"
    )
    parser.add_argument(
        "--no-candidates",
        action="store_true",
        help="ledger: skip measuring the candidate query shape and wide index",
    )
    parser.add_argument(
        "--skip-postgres", action="store_true", help="SQLite only (skips the ledger bench)"
    )
    args = parser.parse_args(argv)
    unknown = set(args.benches) - set(BENCHES)
    if unknown:
        parser.error(
            f"unknown bench {', '.join(sorted(unknown))}: choose from {', '.join(BENCHES)}"
        )
    return args


async def run(args: argparse.Namespace) -> list[Figure]:
    """Run the chosen benches and collect their summary rows."""
    figures: list[Figure] = []
    chosen = set(args.benches) | ({args.only} if args.only else set()) or set(BENCHES)
    if "worker" in chosen:
        if args.skip_postgres:
            print("\nworker bench skipped: it needs PostgreSQL")
        else:
            figures += await asyncio.to_thread(
                worker_bench.main, args.worker_items, args.concurrency
            )
    if "site" in chosen:
        figures += await asyncio.to_thread(site_bench.main, args.site_items)
    if "rss" in chosen:
        figures += await asyncio.to_thread(rss_bench.main)
    if "console" in chosen:
        figures += await asyncio.to_thread(
            console_bench.main,
            items=200,
            seconds=args.console_seconds,
            postgres=not args.skip_postgres,
        )
    if "soak" in chosen:
        if args.skip_postgres:
            print("\nsoak skipped: it needs PostgreSQL")
        else:
            figures += await asyncio.to_thread(soak.main, args.soak_items)
    if "scale" in chosen and not args.skip_postgres:
        figures += await asyncio.to_thread(scale_bench.main, args.scale_rows)
    if "outbox" in chosen:
        figures += await outbox_bench.main(
            args.items, args.concurrency, postgres=not args.skip_postgres
        )
    if "ledger" in chosen:
        if args.skip_postgres:
            print("\nledger bench skipped: it needs PostgreSQL")
        else:
            figures += await ledger_bench.main(args.ledger_rows, candidates=not args.no_candidates)
    if "wechat" in chosen:
        figures += await wechat_bench.main(args.wechat_items)
    return figures


def main(argv: list[str] | None = None) -> None:
    """Entry point: run, then print the compact table and the total duration."""
    args = parse_args(argv)
    started = time.perf_counter()
    figures = asyncio.run(run(args))
    print(f"\n== summary ({time.perf_counter() - started:.0f} s in all) ==")
    print_table(figures)


if __name__ == "__main__":
    main()
