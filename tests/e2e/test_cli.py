"""The gongkai command as an operator runs it."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.e2e.service import gongkai


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
