"""The layering contracts (pyproject.toml, [tool.importlinter]) hold, and they catch a wrong
import: each case copies the packages, adds one module that breaks one contract, and runs
`lint-imports` on the copy."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PACKAGES = ("bot", "channels", "storage")


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(root / "pyproject.toml")],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_tree_keeps_every_contract() -> None:
    done = _lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(
    ("module", "wrong_import", "contract"),
    [
        ("storage/layer_probe.py", "import bot.app", "storage does not import bot"),
        ("channels/layer_probe.py", "import bot.settings", "channels import neither bot"),
        ("channels/layer_probe.py", "import storage.models", "channels import neither bot"),
        (
            "bot/console/layer_probe.py",
            "import bot.web.deps",
            "bot.console does not import bot.web's internals",
        ),
        (
            "bot/web/layer_probe.py",
            "import bot.console.pages_items",
            "bot.web does not import bot.console's internals",
        ),
    ],
)
def test_a_wrong_import_breaks_its_contract(
    tmp_path: Path, module: str, wrong_import: str, contract: str
) -> None:
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    (tmp_path / module).write_text(f'"""A deliberate layering mistake."""\n\n{wrong_import}\n')
    done = _lint_imports(tmp_path)
    assert done.returncode != 0, done.stdout
    report = " ".join(done.stdout.split())  # lint-imports wraps long names to the terminal
    assert contract in report.partition("Broken contracts")[2], done.stdout
