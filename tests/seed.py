"""The seed report the tests check against, kept in the repository so a clean clone is hermetic."""

from pathlib import Path

SEED_REPORT = Path(__file__).resolve().parent / "data" / "tiande-2016-annual-report.txt"
