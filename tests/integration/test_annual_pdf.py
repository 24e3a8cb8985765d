"""The annual report's .docx through LibreOffice: embedded CJK fonts, the title, page PNGs.

The PNGs of pages 1 and 2 (and the .docx and .pdf) are kept in test-artifacts/annual-report/
(gitignored) for a person to look at. Without ``soffice`` the PDF test is skipped, unless
``GONGKAI_REQUIRE_OFFICE=1``, which turns that into a failure (install it with
``deploy/fonts/install.sh``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bot.annual.export import MEDIA_TYPES, build_report, to_docx
from bot.annual.figures import TABLE3_ROWS, AnnualFigures
from bot.annual.validate import table3_from_rows
from tests.integration.conftest import Api

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "annual-report"
TOOLS = ("soffice", "pdffonts", "pdftotext", "pdftoppm")
CJK_FONT = re.compile(r"Fandol|CJK|Hei|Song|Kai|Fang|Ming|WenQuanYi|wqy", re.IGNORECASE)


def require_tools() -> None:
    """Skip (or, with GONGKAI_REQUIRE_OFFICE=1, fail) when a conversion tool is missing."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if not missing:
        return
    reason = (
        f"{', '.join(missing)} not installed (Debian: sh deploy/fonts/install.sh installs "
        "libreoffice-writer-nogui, poppler-utils and the CJK fonts)"
    )
    if os.environ.get("GONGKAI_REQUIRE_OFFICE") == "1":
        pytest.fail(f"GONGKAI_REQUIRE_OFFICE=1 but {reason}")
    pytest.skip(reason)


def run(*args: str, timeout: float = 60) -> str:
    """Run one tool, failing the test with its output when it fails."""
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"{args[0]} failed: {done.stdout}\n{done.stderr}"
    return done.stdout


def stand_ins_installed() -> bool:
    """Tell whether deploy/fonts' aliases are active (仿宋_GB2312 resolves to FandolFang)."""
    if shutil.which("fc-match") is None:
        return False
    return run("fc-match", "-f", "%{family[0]}", "仿宋_GB2312").strip() == "FandolFang"


def township_figures() -> AnnualFigures:
    """A township's 2023 figures with a consistent table 三 (non-zero in every row)."""
    rows = []
    for index, _ in enumerate(TABLE3_ROWS):
        rows.append([(index + col) % 3 + 1 for col in range(6)])
    results = [sum(r[c] for r in rows[2:23]) for c in range(6)]
    rows[23] = results  # （七）总计
    rows[1] = [0] * 6  # 二、上年结转
    rows[24] = [1] * 6  # 四、结转下年度
    rows[0] = [results[c] + rows[24][c] for c in range(6)]  # 一 + 二 = 七 + 四
    table3 = table3_from_rows([[*r, sum(r)] for r in rows])
    return AnnualFigures(
        org_code="cesxiang",
        org_name="测试乡人民政府",
        year=2023,
        level="township",
        area_word="全乡",
        active_total=63,
        table3=table3,
        basic_situation="2023年，测试乡深入贯彻落实《中华人民共和国政府信息公开条例》。",
    )


@pytest.mark.slow
def test_docx_converts_to_pdf_with_cjk_fonts_and_page_images(tmp_path: Path) -> None:
    require_tools()
    doc, findings = build_report(township_figures(), "2021")
    assert [f for f in findings if f.severity == "error"] == []
    source = tmp_path / "annual-report.docx"
    source.write_bytes(to_docx(doc))

    profile = (
        tmp_path / "lo-profile"
    ).as_uri()  # a private profile: no clash with a running soffice
    run(
        "soffice",
        f"-env:UserInstallation={profile}",
        "--headless",
        "--convert-to",
        "pdf",
        "--outdir",
        str(tmp_path),
        str(source),
        timeout=240,
    )
    pdf = tmp_path / "annual-report.pdf"
    assert pdf.stat().st_size > 10_000

    fonts = [line.split() for line in run("pdffonts", str(pdf)).splitlines()[2:] if line.strip()]
    assert fonts, "the PDF names no fonts"
    names = [row[0] for row in fonts]
    # Columns: name type [type2] encoding emb sub uni object ID; "emb" is fifth from the end.
    assert all(row[-5] == "yes" for row in fonts), f"fonts not embedded: {fonts}"
    assert any(CJK_FONT.search(name) for name in names), f"no CJK font embedded: {names}"
    if stand_ins_installed():
        for wanted in ("FandolFang", "FandolHei", "NotoSerifCJK"):
            assert any(wanted in name for name in names), f"{wanted} missing from {names}"

    text = re.sub(r"\s+", "", run("pdftotext", "-layout", str(pdf), "-"))
    for line in doc.title_lines:
        assert line in text
    assert "收到和处理政府信息公开申请情况" in text
    assert "—1—" in text  # the page number with its dashes

    run("pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "2", str(pdf), str(tmp_path / "page"))
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) == 2
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for number, png in enumerate(pages, start=1):
        data = png.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        assert len(data) > 5_000  # not a blank page
        shutil.copyfile(png, ARTIFACTS / f"page-{number}.png")
    shutil.copyfile(source, ARTIFACTS / source.name)
    shutil.copyfile(pdf, ARTIFACTS / pdf.name)


class TestAnnualRoute:
    """GET /api/v1/reports/{org}/{year}/annual over the real app, on each database."""

    async def test_json_by_default(self, api: Api) -> None:
        r = await api.client.get("/api/v1/reports/tiande/2023/annual", headers=api.tiande)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/json"
        assert r.headers["x-report-format"] == "2021"
        data = r.json()
        assert data["org"]["code"] == "tiande"
        assert data["format"] == "2021"
        keys = {b.get("key") for b in data["document"]["blocks"] if b["type"] == "table"}
        assert {"table2", "table3", "table4"} <= keys
        assert json.loads(json.dumps(data)) == data

    @pytest.mark.parametrize(
        ("query", "accept", "kind"),
        [
            ("?as=docx", None, "docx"),
            ("?format=seed", "text/html", "html"),
            ("?format=2019", "text/markdown", "md"),
            ("?as=json", "text/html", "json"),
        ],
    )
    async def test_kinds(self, api: Api, query: str, accept: str | None, kind: str) -> None:
        headers = {**api.tiande, **({"Accept": accept} if accept else {})}
        r = await api.client.get(f"/api/v1/reports/tiande/2023/annual{query}", headers=headers)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == MEDIA_TYPES[kind]  # type: ignore[index]
        if kind == "docx":
            assert r.content.startswith(b"PK")
            assert "tiande-2023-annual-2021.docx" in r.headers["content-disposition"]
        if kind == "html":
            assert "<!doctype html>" in r.text

    async def test_refusals(self, api: Api) -> None:
        base = "/api/v1/reports/tiande/2023/annual"
        r = await api.client.get(base, headers={**api.tiande, "Accept": "image/png"})
        assert r.status_code == 406
        r = await api.client.get(f"{base}?format=2030", headers=api.tiande)
        assert r.status_code == 422
        r = await api.client.get("/api/v1/reports/lianhe/2023/annual", headers=api.tiande)
        assert r.status_code == 422  # not the caller's organization: same as unknown
        r = await api.client.get(base)
        assert r.status_code == 401
