"""``python -m tests.bench``: run the outbox, ledger and WeChat benchmarks; print a summary."""

from __future__ import annotations

import argparse
import asyncio
import time

from tests.bench import Figure, ledger_bench, outbox_bench, print_table, wechat_bench


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command-line options."""
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__)
    parser.add_argument("--only", choices=("outbox", "ledger", "wechat"), help="run one bench only")
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
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> list[Figure]:
    """Run the chosen benches and collect their summary rows."""
    figures: list[Figure] = []
    if args.only in (None, "outbox"):
        figures += await outbox_bench.main(
            args.items, args.concurrency, postgres=not args.skip_postgres
        )
    if args.only in (None, "ledger"):
        if args.skip_postgres:
            print("\nledger bench skipped: it needs PostgreSQL")
        else:
            figures += await ledger_bench.main(args.ledger_rows, candidates=not args.no_candidates)
    if args.only in (None, "wechat"):
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
