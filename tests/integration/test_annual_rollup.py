"""A county's annual report sums the organizations under it that have submitted their data,
and names the others by their Chinese names in every export."""

from __future__ import annotations

import io
import json

from docx import Document as read_docx

from storage.models import Organization
from storage.tokens import create_token
from tests.integration.conftest import Api

ITEM = {
    "org": "tiande",
    "title": "春耕通知",
    "body": "正文",
    "published_at": "2016-05-04T10:00:00+08:00",
    "published_channels": ["wechat"],
}
REPORT = "/api/v1/reports/shulan/2016/annual?format=2021"


async def _three_townships(api: Api) -> None:
    """天德乡 (2 items) and 联合乡 (1 item) submit; 新安镇 (4 items) has not submitted."""
    county = await Organization.get(code="shulan")
    xinan = await Organization.create(code="xinan", name="新安镇人民政府", parent=county)
    xinan_token = await create_token("新安镇编辑", xinan, role="admin", review_exempt=True)
    batches = (
        ("tiande", api.tiande, 2),
        ("lianhe", api.lianhe, 1),
        ("xinan", {"Authorization": f"Bearer {xinan_token}"}, 4),
    )
    for code, headers, count in batches:
        items = [{**ITEM, "org": code, "title": f"{code}通知{n}"} for n in range(count)]
        response = await api.client.post("/api/v1/imports", json={"items": items}, headers=headers)
        assert response.status_code in (200, 201), response.text
    for code, headers in (("tiande", api.tiande), ("lianhe", api.lianhe)):
        put = await api.client.put(
            f"/api/v1/orgs/{code}/texts/2016", json={"submitted": True}, headers=headers
        )
        assert put.status_code == 200, put.text


def _docx_text(body: bytes) -> str:
    document = read_docx(io.BytesIO(body))
    return "\n".join(p.text for p in document.paragraphs)


async def test_rollup_docx_names_the_township_that_has_not_submitted(api: Api) -> None:
    await _three_townships(api)
    response = await api.client.get(f"{REPORT}&as=docx", headers=api.admin)
    assert response.status_code == 200, response.text
    text = _docx_text(response.content)
    assert "新安镇人民政府尚未提交2016年度数据，其数据未计入本报告汇总" in text
    assert "天德乡人民政府" not in text
    assert "联合乡人民政府" not in text
    assert "主动公开信息3条" in text  # 2 + 1: 新安镇's 4 items are left out


async def test_every_export_names_it_and_json_says_whether_it_is_counted(api: Api) -> None:
    await _three_townships(api)
    for kind in ("html", "md"):
        response = await api.client.get(f"{REPORT}&as={kind}", headers=api.admin)
        assert "新安镇人民政府尚未提交2016年度数据" in response.text, kind
    report = (await api.client.get(f"{REPORT}&as=json", headers=api.admin)).json()
    assert report["rollup"] == {"missing": ["新安镇人民政府"], "missing_counted": False}
    assert report["figures"]["active_total"] == 3
    notes = [f for f in report["findings"] if f["rule"] == "rollup"]
    assert [n["severity"] for n in notes] == ["warning"]
    assert "新安镇人民政府" in notes[0]["message"]
    paragraphs = [b["text"] for b in report["document"]["blocks"] if b["type"] == "paragraph"]
    assert any("新安镇人民政府" in text for text in paragraphs)


async def test_the_county_may_choose_to_sum_the_missing_township(api: Api) -> None:
    await _three_townships(api)
    response = await api.client.get(f"{REPORT}&as=json&include_unsubmitted=true", headers=api.admin)
    report = response.json()
    assert report["figures"]["active_total"] == 7
    assert report["rollup"] == {"missing": ["新安镇人民政府"], "missing_counted": True}
    docx = await api.client.get(f"{REPORT}&as=docx&include_unsubmitted=true", headers=api.admin)
    assert "新安镇人民政府尚未提交2016年度数据，本报告已按其现有数据计入汇总" in _docx_text(
        docx.content
    )


async def test_a_township_report_has_no_rollup_note(api: Api) -> None:
    await _three_townships(api)
    response = await api.client.get(
        "/api/v1/reports/tiande/2016/annual?format=seed&as=json", headers=api.tiande
    )
    report = response.json()
    assert report["figures"]["active_total"] == 2
    assert report["rollup"] == {"missing": [], "missing_counted": False}
    assert not [f for f in report["findings"] if f["rule"] == "rollup"]
    assert "尚未提交" not in json.dumps(report["document"], ensure_ascii=False)
