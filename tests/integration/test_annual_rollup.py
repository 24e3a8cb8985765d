"""A county's annual report sums the organizations under it and names the late ones."""

from __future__ import annotations

from tests.integration.conftest import Api

ITEM = {
    "org": "tiande",
    "title": "春耕通知",
    "body": "正文",
    "published_at": "2016-05-04T10:00:00+08:00",
    "published_channels": ["wechat"],
}


async def test_county_report_sums_townships_and_warns_about_missing_data(api: Api) -> None:
    """舒兰市's 2016 JSON report counts both townships' items and names 联合乡 as not submitted."""
    await api.client.post("/api/v1/imports", json={"items": [ITEM, ITEM]}, headers=api.tiande)
    other = {**ITEM, "org": "lianhe", "published_channels": ["website"]}
    await api.client.post("/api/v1/imports", json={"items": [other]}, headers=api.lianhe)
    put = await api.client.put(
        "/api/v1/orgs/tiande/texts/2016", json={"submitted": True}, headers=api.tiande
    )
    assert put.status_code == 200, put.text
    response = await api.client.get(
        "/api/v1/reports/shulan/2016/annual?format=seed&as=json", headers=api.admin
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (
        report["figures"]["active_total"],
        report["figures"]["ch_wechat"],
        report["figures"]["ch_website"],
    ) == (3, 2, 1)
    rollup = [f for f in report["findings"] if f["rule"] == "rollup"]
    assert len(rollup) == 1
    assert "lianhe" in rollup[0]["message"]
    assert "tiande" not in rollup[0]["message"]
    township = await api.client.get(
        "/api/v1/reports/tiande/2016/annual?format=seed&as=json", headers=api.tiande
    )
    assert township.json()["figures"]["active_total"] == 2
    assert not [f for f in township.json()["findings"] if f["rule"] == "rollup"]
