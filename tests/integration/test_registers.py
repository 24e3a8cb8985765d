"""The report registers over HTTP: CRUD, validation naming the field, organization isolation."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.routing import APIRoute

from bot.web import registers
from storage.ledger import local_today
from storage.register_models import Application, ReportText
from tests.integration.conftest import Api

BASE = "/api/v1/orgs/tiande"
APPLICATION: dict[str, Any] = {
    "received_on": "2024-03-04",
    "channel": "网络",
    "applicant_type": "自然人",
    "request": "申请公开2023年度农田水利工程建设资金使用情况。",
}
RECORDS: dict[str, dict[str, Any]] = {
    "applications": APPLICATION,
    "responses": {
        "kind": "interpretation",
        "title": "春耕补贴政策解读",
        "occurred_on": "2024-04-01",
    },
    "normative-documents": {
        "kind": "行政规范性文件",
        "title": "天德乡村务公开管理办法",
        "doc_number": "天德发〔2024〕1号",
        "issued_on": "2024-02-01",
    },
    "cases": {"kind": "review", "received_on": "2024-05-06"},
    "complaints": {"received_on": "2024-06-07", "summary": "公开栏信息更新不及时。"},
}
CHANGES: dict[str, dict[str, Any]] = {
    "applications": {"outcome": "open", "replied_on": "2024-03-20", "fee_yuan": "0.00"},
    "responses": {"title": "春耕补贴政策解读（二）"},
    "normative-documents": {"repealed_on": "2024-09-01"},
    "cases": {"outcome": "upheld", "closed_on": "2024-07-01"},
    "complaints": {"summary": "已核实并整改。"},
}


def _error_fields(response: Any) -> list[str]:
    return [".".join(str(p) for p in e["loc"][1:]) for e in response.json()["detail"]]


def _day(offset: int) -> str:
    return (local_today() + dt.timedelta(days=offset)).isoformat()


class TestCrud:
    @pytest.mark.parametrize("kind", list(RECORDS))
    async def test_create_list_update_delete(self, api: Api, kind: str) -> None:
        """A record is created, listed for its year only, replaced by PUT and deleted."""
        url = f"{BASE}/{kind}"
        created = await api.client.post(url, json=RECORDS[kind], headers=api.tiande)
        assert created.status_code == 201, created.text
        record_id = created.json()["id"]
        assert [r["id"] for r in (await api.client.get(url, headers=api.tiande)).json()] == [
            record_id
        ]
        in_2024 = await api.client.get(url, params={"year": 2024}, headers=api.tiande)
        in_2023 = await api.client.get(url, params={"year": 2023}, headers=api.tiande)
        assert (len(in_2024.json()), in_2023.json()) == (1, [])
        changed = {**RECORDS[kind], **CHANGES[kind]}
        updated = await api.client.put(f"{url}/{record_id}", json=changed, headers=api.tiande)
        assert updated.status_code == 200, updated.text
        for field, value in CHANGES[kind].items():
            assert updated.json()[field] == value
        deleted = await api.client.delete(f"{url}/{record_id}", headers=api.tiande)
        assert deleted.status_code == 204
        assert (await api.client.get(url, headers=api.tiande)).json() == []

    async def test_application_defaults_and_money(self, api: Api) -> None:
        """An open application stores no outcome, zero fee and no extension."""
        created = await api.client.post(
            f"{BASE}/applications", json={**APPLICATION, "fee_yuan": 100}, headers=api.tiande
        )
        body = created.json()
        assert (body["outcome"], body["replied_on"], body["extension_workdays"]) == (None, None, 0)
        assert body["fee_yuan"] == "100.00"
        stored = await Application.get(id=body["id"])
        assert (stored.channel, stored.applicant_type) == ("网络", "自然人")

    @pytest.mark.parametrize(
        ("resource", "body", "field", "value"),
        [
            ("decisions", {"licensing": 213, "penalty": 5, "enforcement": 2}, "licensing", 213),
            ("decisions", {"admin_fees_wan": "1.2345"}, "admin_fees_wan", "1.2345"),
            ("facts", {"staff_full_time": 1, "funds_wan": "0.5"}, "funds_wan", "0.5000"),
            ("texts", {"problems": "一是……", "submitted": True}, "submitted", True),
        ],
    )
    async def test_yearly_records_are_zero_until_put_then_replaced(
        self, api: Api, resource: str, body: dict[str, Any], field: str, value: object
    ) -> None:
        """GET answers defaults before any PUT; PUT creates, a second PUT replaces."""
        url = f"{BASE}/{resource}/2024"
        before = await api.client.get(url, headers=api.tiande)
        assert before.status_code == 200
        assert before.json()[field] != value
        first = await api.client.put(url, json=body, headers=api.tiande)
        assert (first.status_code, first.json()[field]) == (200, value)
        second = await api.client.put(url, json={}, headers=api.tiande)
        assert second.json()[field] != value
        assert (await api.client.get(url, headers=api.tiande)).json() == second.json()

    async def test_texts_draft_copies_the_previous_year(self, api: Api) -> None:
        """A year without texts starts as a copy of the previous year's, marked as a draft,
        with the year moved on (2023年 → 2024年)."""
        texts = {"basic_situation": "2023年基本情况", "contact": "天德乡政务公开办公室"}
        await api.client.put(
            f"{BASE}/texts/2023", json={**texts, "submitted": True}, headers=api.tiande
        )
        draft = (await api.client.get(f"{BASE}/texts/2024", headers=api.tiande)).json()
        assert (draft["draft"], draft["submitted"]) == (True, False)
        assert draft["basic_situation"] == "2024年基本情况"
        assert await ReportText.filter(year=2024).count() == 0
        await api.client.put(
            f"{BASE}/texts/2024", json={"basic_situation": "2024年"}, headers=api.tiande
        )
        old = (await api.client.get(f"{BASE}/texts/2023", headers=api.tiande)).json()
        assert (old["basic_situation"], old["draft"]) == ("2023年基本情况", False)


class TestValidation:
    @pytest.mark.parametrize(
        ("kind", "change", "field", "words"),
        [
            ("applications", {"received_on": _day(2)}, "received_on", "must not be later"),
            ("applications", {"channel": "电话"}, "channel", "'当面', '网络'"),
            ("applications", {"applicant_type": "公司"}, "applicant_type", "'自然人'"),
            ("applications", {"request": "  "}, "request", "at least 1 character"),
            ("applications", {"extension_workdays": 21}, "extension_workdays", "less than or"),
            ("applications", {"extension_workdays": -1}, "extension_workdays", "greater than"),
            ("applications", {"fee_yuan": "-1"}, "fee_yuan", "greater than or equal to 0"),
            ("applications", {"fee_yuan": "1.005"}, "fee_yuan", "2 decimal places"),
            (
                "applications",
                {"outcome": "total", "replied_on": "2024-03-05"},
                "outcome",
                "result row",
            ),
            ("applications", {"outcome": "open"}, "replied_on", "together"),
            ("applications", {"replied_on": "2024-03-05"}, "replied_on", "together"),
            (
                "applications",
                {"outcome": "open", "replied_on": "2024-03-01"},
                "replied_on",
                "before received_on",
            ),
            ("applications", {"corrected_on": "2024-03-01"}, "corrected_on", "before received"),
            ("applications", {"colour": "red"}, "colour", "Extra inputs"),
            ("responses", {"kind": "rumour"}, "kind", "'hotspot'"),
            ("normative-documents", {"kind": "规定"}, "kind", "'规章'"),
            ("normative-documents", {"repealed_on": "2024-01-01"}, "repealed_on", "before"),
            ("cases", {"outcome": "won"}, "outcome", "'upheld'"),
            ("cases", {"outcome": "upheld"}, "closed_on", "not pending"),
            ("cases", {"closed_on": "2024-06-01"}, "closed_on", "not pending"),
            ("complaints", {"received_on": "2024-02-30"}, "received_on", "date"),
        ],
    )
    async def test_bad_input_names_the_field_and_stores_nothing(
        self, api: Api, kind: str, change: dict[str, Any], field: str, words: str
    ) -> None:
        """Each broken rule gives 422 naming the field; nothing is stored."""
        url = f"{BASE}/{kind}"
        response = await api.client.post(url, json={**RECORDS[kind], **change}, headers=api.tiande)
        assert response.status_code == 422, response.text
        assert field in _error_fields(response)
        assert words in response.text
        assert (await api.client.get(url, headers=api.tiande)).json() == []

    async def test_tomorrow_is_accepted(self, api: Api) -> None:
        """A date one day ahead is allowed, for a clock just before midnight."""
        response = await api.client.post(
            f"{BASE}/complaints", json={"received_on": _day(1), "summary": "x"}, headers=api.tiande
        )
        assert response.status_code == 201, response.text
        stored = (await api.client.get(f"{BASE}/complaints", headers=api.tiande)).json()
        assert [(r["received_on"], r["summary"]) for r in stored] == [(_day(1), "x")]

    @pytest.mark.parametrize(
        ("resource", "body", "field", "words"),
        [
            ("decisions", {"admin_fees_wan": "0.12345"}, "admin_fees_wan", "4 decimal places"),
            ("decisions", {"penalty": -1}, "penalty", "greater than or equal to 0"),
            ("facts", {"funds_wan": "-0.1"}, "funds_wan", "greater than or equal to 0"),
            ("facts", {"meetings": "many"}, "meetings", "valid integer"),
            ("texts", {"level": "village"}, "level", "'township'"),
        ],
    )
    async def test_yearly_records_name_the_bad_field(
        self, api: Api, resource: str, body: dict[str, Any], field: str, words: str
    ) -> None:
        """PUT with a bad value is a 422 naming it."""
        response = await api.client.put(f"{BASE}/{resource}/2024", json=body, headers=api.tiande)
        assert response.status_code == 422, response.text
        assert field in _error_fields(response)
        assert words in response.text

    async def test_year_out_of_range_is_refused(self, api: Api) -> None:
        """The year in the path and the year filter must be 2000..2100."""
        path = await api.client.get(f"{BASE}/facts/1999", headers=api.tiande)
        query = await api.client.get(f"{BASE}/cases", params={"year": 3000}, headers=api.tiande)
        assert (path.status_code, query.status_code) == (422, 422)
        assert _error_fields(path) == ["year"]
        assert _error_fields(query) == ["year"]


class TestIsolation:
    async def test_every_register_route_needs_a_token(self, api: Api) -> None:
        """Without a valid bearer token every register route answers 401."""
        checked = 0
        for route in registers.router.routes:
            assert isinstance(route, APIRoute)
            path = route.path.format(org="tiande", record_id=1, year=2024)
            for method in route.methods or ():
                response = await api.client.request(method, path)
                assert response.status_code == 401, (method, path)
                checked += 1
        assert checked == 26

    @pytest.mark.parametrize("kind", list(RECORDS))
    async def test_another_organizations_records_answer_404(self, api: Api, kind: str) -> None:
        """lianhe's token neither sees nor changes tiande's records, by path or by id."""
        created = await api.client.post(f"{BASE}/{kind}", json=RECORDS[kind], headers=api.tiande)
        record_id = created.json()["id"]
        other = api.lianhe
        assert (await api.client.get(f"{BASE}/{kind}", headers=other)).status_code == 404
        posted = await api.client.post(f"{BASE}/{kind}", json=RECORDS[kind], headers=other)
        assert posted.status_code == 404
        own_path = f"/api/v1/orgs/lianhe/{kind}/{record_id}"
        put = await api.client.put(own_path, json=RECORDS[kind], headers=other)
        delete = await api.client.delete(own_path, headers=other)
        assert (put.status_code, delete.status_code) == (404, 404)
        still = await api.client.get(f"{BASE}/{kind}", headers=api.tiande)
        assert [r["id"] for r in still.json()] == [record_id]

    @pytest.mark.parametrize("resource", ["decisions", "facts", "texts"])
    async def test_yearly_records_of_another_organization_answer_404(
        self, api: Api, resource: str
    ) -> None:
        """A township cannot read or write another township's yearly records."""
        url = f"{BASE}/{resource}/2024"
        get = await api.client.get(url, headers=api.lianhe)
        put = await api.client.put(url, json={}, headers=api.lianhe)
        assert (get.status_code, put.status_code) == (404, 404)

    async def test_admin_and_county_scope_reach_a_township(self, api: Api) -> None:
        """An administrator may write any organization's registers."""
        response = await api.client.post(
            f"{BASE}/complaints", json=RECORDS["complaints"], headers=api.admin
        )
        assert response.status_code == 201
        assert (await api.client.get(f"{BASE}/complaints", headers=api.tiande)).json()

    async def test_unknown_organization_is_404(self, api: Api) -> None:
        """A code that names no organization answers 404 like one the caller may not see."""
        response = await api.client.get("/api/v1/orgs/nowhere/cases", headers=api.admin)
        assert response.status_code == 404


class TestDeskFields:
    async def test_applications_take_the_desks_fields(self, api: Api) -> None:
        body = {
            **APPLICATION,
            "applicant_name": "某某公司",
            "reply_note": "已提供资金使用明细。",
            "fee_basis": "按量",
            "fee_pages": 45,
        }
        created = await api.client.post(f"{BASE}/applications", json=body, headers=api.tiande)
        assert created.status_code == 201, created.text
        shown = created.json()
        assert (shown["applicant_name"], shown["fee_basis"], shown["fee_pages"]) == (
            "某某公司",
            "按量",
            45,
        )
        stored = await Application.get(id=shown["id"])
        assert stored.reply_note == "已提供资金使用明细。"
        bad = await api.client.post(
            f"{BASE}/applications", json={**body, "fee_basis": "按年"}, headers=api.tiande
        )
        assert (bad.status_code, _error_fields(bad)) == (422, ["fee_basis"])

    async def test_documents_take_their_validity(self, api: Api) -> None:
        url = f"{BASE}/normative-documents"
        body = {**RECORDS["normative-documents"], "validity": "失效"}
        undated = await api.client.post(url, json=body, headers=api.tiande)
        assert undated.status_code == 422
        assert "repealed_on" in undated.text
        dated = await api.client.post(
            url, json={**body, "repealed_on": "2024-05-01"}, headers=api.tiande
        )
        assert dated.status_code == 201, dated.text
        assert (dated.json()["validity"], dated.json()["item_id"]) == ("失效", None)

    async def test_decisions_take_the_2019_fields_and_keep_blanks_blank(self, api: Api) -> None:
        url = f"{BASE}/decisions/2024"
        body = {"licensing": 7, "licensing_prev": 12, "licensing_change": -2,
                "procurement_amount_wan": "25.1"}  # fmt: skip
        put = await api.client.put(url, json=body, headers=api.tiande)
        assert put.status_code == 200, put.text
        shown = put.json()
        assert (shown["licensing_change"], shown["procurement_amount_wan"]) == (-2, "25.1000")
        assert shown["other_services"] is None
        bad = await api.client.put(url, json={"penalty_prev": -1}, headers=api.tiande)
        assert (bad.status_code, _error_fields(bad)) == (422, ["penalty_prev"])
        report = await api.client.get(
            "/api/v1/reports/tiande/2024/annual?format=2019&as=json", headers=api.tiande
        )
        table2 = next(b for b in report.json()["document"]["blocks"] if b.get("key") == "table2")
        licensing = next(r for r in table2["rows"] if r[0]["text"] == "行政许可")
        assert [c["text"] for c in licensing] == ["行政许可", "12", "-2", "7"]
        other = next(r for r in table2["rows"] if r[0]["text"] == "其他对外管理服务事项")
        assert [c["text"] for c in other] == ["其他对外管理服务事项", "", "", ""]


def test_the_factory_writes_four_routes_per_register() -> None:
    """Each list register has list/create/update/delete under the names, methods and status
    codes the hand-written routes had (their OpenAPI document was diffed identical)."""
    shapes = {
        (route.name, frozenset(route.methods or ()), route.path, route.status_code)
        for route in registers.router.routes
        if isinstance(route, APIRoute)
    }
    base = "/api/v1/orgs/{org}"
    for path, noun, plural in (
        ("/applications", "application", "applications"),
        ("/responses", "response", "responses"),
        ("/normative-documents", "document", "documents"),
        ("/cases", "case", "cases"),
        ("/complaints", "complaint", "complaints"),
    ):
        one = f"{base}{path}/{{record_id}}"
        assert {
            (f"list_{plural}", frozenset({"GET"}), base + path, None),
            (f"create_{noun}", frozenset({"POST"}), base + path, 201),
            (f"update_{noun}", frozenset({"PUT"}), one, None),
            (f"delete_{noun}", frozenset({"DELETE"}), one, 204),
        } <= shapes
