"""The gongkai command as an operator runs it."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.e2e.service import ROOT, gongkai


def test_queue_from_markdown_waits_for_review(tmp_path: Path) -> None:
    """`gongkai queue` takes the title from the file and the item waits for the 保密审查."""
    env = {**os.environ, "GONGKAI_DATA_DIR": str(tmp_path / "data"), "GONGKAI_DATABASE_URL": ""}
    gongkai(["init"], env)
    gongkai(["org", "create", "--code", "tiande", "--name", "天德乡人民政府"], env)
    notice = tmp_path / "notice.md"
    notice.write_text("# 关于冬季防火的通知\n\n各村：请做好防火工作。\n", encoding="utf-8")
    out = gongkai(["queue", str(notice), "--org", "tiande", "--channels", "website"], env)
    item_id = int(out.split()[1])
    status = json.loads(gongkai(["status", str(item_id)], env))
    assert (status["title"], status["status"]) == ("关于冬季防火的通知", "in_review")
    assert [d["state"] for d in status["deliveries"]] == ["pending"]
    assert status["progress"] == "in_review"


def _insert_application(database: Path, org_code: str, fee_yuan: str) -> None:
    """An application replied in 2024 with the given fee, written as any other client would."""
    with sqlite3.connect(database) as db:
        (org_id,) = db.execute("SELECT id FROM organization WHERE code = ?", (org_code,)).fetchone()
        columns = {
            "organization_id": org_id,
            "received_on": "2024-03-04",
            "channel": "网络",
            "applicant_type": "自然人",
            "request": "申请",
            "outcome": "open",
            "replied_on": "2024-03-08",
            "extension_workdays": 0,
            "paused_workdays": 0,
            "fee_yuan": fee_yuan,
            "replies_already_public": 0,
            "applicant_name": "",
            "reply_note": "",
            "fee_basis": "",
            "fee_pages": 0,
            "created_at": "2024-03-04 02:00:00+00:00",
            "updated_at": "2024-03-08 02:00:00+00:00",
        }
        names = ", ".join(columns)
        marks = ", ".join("?" for _ in columns)
        db.execute(f"INSERT INTO application ({names}) VALUES ({marks})", list(columns.values()))  # noqa: S608


def test_strict_refuses_to_write_a_report_with_errors(tmp_path: Path) -> None:
    """`gongkai report annual --strict`: a 信息处理费 of 0.35 元 is an error, so no file is
    written and the exit code is 1; without --strict the file is written with the finding."""
    data = tmp_path / "data"
    env = {**os.environ, "GONGKAI_DATA_DIR": str(data), "GONGKAI_DATABASE_URL": ""}
    gongkai(["init"], env)
    gongkai(["org", "create", "--code", "tiande", "--name", "天德乡人民政府"], env)
    _insert_application(data / "gongkai.sqlite3", "tiande", "0.35")
    out = tmp_path / "report.docx"
    args = ["report", "annual", "--org", "tiande", "--year", "2024", "--out", str(out)]
    refused = subprocess.run(
        [sys.executable, "-m", "bot", *args, "--strict"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert refused.returncode == 1
    assert "信息处理费0.35元不可能" in refused.stderr
    assert not out.exists()
    gongkai(args, env)
    assert out.read_bytes()[:2] == b"PK"
