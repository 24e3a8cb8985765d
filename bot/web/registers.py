"""The report registers under /api/v1/orgs/{org}: list, create, update and delete.

Every route resolves the organization from the path and checks the caller may act for it;
a record of another organization answers 404 as if it did not exist. Reading needs any role
in the organization; entering and changing records (clerical work, like writing items)
needs an editor (编辑) or admin (管理员) token, and each change is in the audit log.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, HTTPException, Path, Query, status
from pydantic import BaseModel
from tortoise.models import Model

from bot.annual.collect import report_text
from bot.web.deps import EDITORS, Principal, PrincipalDep
from bot.web.register_schemas import (
    ApplicationIn,
    ApplicationOut,
    CaseIn,
    CaseOut,
    ComplaintIn,
    ComplaintOut,
    DecisionsIn,
    DecisionsOut,
    FactsIn,
    FactsOut,
    NormativeDocumentIn,
    NormativeDocumentOut,
    ResponseIn,
    ResponseOut,
    TextsIn,
    TextsOut,
)
from storage.audit import Change
from storage.models import Organization
from storage.register_models import (
    AdminDecisionCount,
    Application,
    Case,
    Complaint,
    InstitutionalFacts,
    NormativeDocument,
    ReportText,
    Response,
)

router = APIRouter(prefix="/api/v1/orgs/{org}", tags=["registers"])
M = TypeVar("M", bound=Model)
YearFilter = Annotated[int | None, Query(ge=2000, le=2100)]
Year = Annotated[int, Path(ge=2000, le=2100)]


async def _org(principal: Principal, code: str) -> Organization:
    org = await Organization.get_or_none(code=code)
    if org is None or not principal.may_access(org.id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"organization {code!r} not found")
    return org


async def _owned(model: type[M], org: Organization, record_id: int) -> M:
    record = await model.get_or_none(id=record_id, organization_id=org.id)
    if record is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"{model.__name__} {record_id} not found")
    return record


async def _list(model: type[M], org: Organization, date_field: str, year: int | None) -> list[M]:
    query = model.filter(organization_id=org.id).order_by(date_field, "id")
    if year is not None:
        bounds = {
            f"{date_field}__gte": dt.date(year, 1, 1),
            f"{date_field}__lte": dt.date(year, 12, 31),
        }
        query = query.filter(**bounds)
    return await query


async def _save(record: M, data: BaseModel) -> M:
    record.update_from_dict(data.model_dump())
    await record.save()
    return record


async def _upsert(model: type[M], org: Organization, year: int, data: BaseModel) -> M:
    record, _created = await model.update_or_create(
        defaults=data.model_dump(), organization_id=org.id, year=year
    )
    return record


def _dump(data: BaseModel) -> dict[str, Any]:
    return data.model_dump()


@contextlib.asynccontextmanager
async def _writing(
    principal: Principal, owner: Organization, action: str, target: str = ""
) -> AsyncIterator[Change]:
    """A register change: editor or admin only, in one transaction with its audit row."""
    async with principal.audited(f"register.{action}", org_id=owner.id, target=target) as change:
        principal.require(owner.id, *EDITORS)
        yield change


def _target(record: Model) -> str:
    return f"{type(record).__name__.lower()}:{record.pk}"


# 依申请公开 applications


@router.get("/applications")
async def list_applications(
    org: str, principal: PrincipalDep, year: YearFilter = None
) -> list[ApplicationOut]:
    """Applications received in ``year`` (or all), oldest first."""
    rows = await _list(Application, await _org(principal, org), "received_on", year)
    return [ApplicationOut.model_validate(row) for row in rows]


@router.post("/applications", status_code=201)
async def create_application(
    org: str, data: ApplicationIn, principal: PrincipalDep
) -> ApplicationOut:
    owner = await _org(principal, org)
    async with _writing(principal, owner, "created") as change:
        record = await Application.create(organization=owner, **_dump(data))
        change.target = _target(record)
    return ApplicationOut.model_validate(record)


@router.put("/applications/{record_id}")
async def update_application(
    org: str, record_id: int, data: ApplicationIn, principal: PrincipalDep
) -> ApplicationOut:
    owner = await _org(principal, org)
    record = await _owned(Application, owner, record_id)
    async with _writing(principal, owner, "updated", _target(record)):
        await _save(record, data)
    return ApplicationOut.model_validate(record)


@router.delete("/applications/{record_id}", status_code=204)
async def delete_application(org: str, record_id: int, principal: PrincipalDep) -> None:
    owner = await _org(principal, org)
    record = await _owned(Application, owner, record_id)
    async with _writing(principal, owner, "deleted", _target(record)):
        await record.delete()


# 回应解读


@router.get("/responses")
async def list_responses(
    org: str, principal: PrincipalDep, year: YearFilter = None
) -> list[ResponseOut]:
    rows = await _list(Response, await _org(principal, org), "occurred_on", year)
    return [ResponseOut.model_validate(row) for row in rows]


@router.post("/responses", status_code=201)
async def create_response(org: str, data: ResponseIn, principal: PrincipalDep) -> ResponseOut:
    owner = await _org(principal, org)
    async with _writing(principal, owner, "created") as change:
        record = await Response.create(organization=owner, **_dump(data))
        change.target = _target(record)
    return ResponseOut.model_validate(record)


@router.put("/responses/{record_id}")
async def update_response(
    org: str, record_id: int, data: ResponseIn, principal: PrincipalDep
) -> ResponseOut:
    owner = await _org(principal, org)
    record = await _owned(Response, owner, record_id)
    async with _writing(principal, owner, "updated", _target(record)):
        await _save(record, data)
    return ResponseOut.model_validate(record)


@router.delete("/responses/{record_id}", status_code=204)
async def delete_response(org: str, record_id: int, principal: PrincipalDep) -> None:
    owner = await _org(principal, org)
    record = await _owned(Response, owner, record_id)
    async with _writing(principal, owner, "deleted", _target(record)):
        await record.delete()


# 规章 and 行政规范性文件


@router.get("/normative-documents")
async def list_documents(
    org: str, principal: PrincipalDep, year: YearFilter = None
) -> list[NormativeDocumentOut]:
    """Documents issued in ``year`` (or all), oldest first."""
    rows = await _list(NormativeDocument, await _org(principal, org), "issued_on", year)
    return [NormativeDocumentOut.model_validate(row) for row in rows]


@router.post("/normative-documents", status_code=201)
async def create_document(
    org: str, data: NormativeDocumentIn, principal: PrincipalDep
) -> NormativeDocumentOut:
    owner = await _org(principal, org)
    async with _writing(principal, owner, "created") as change:
        record = await NormativeDocument.create(organization=owner, **_dump(data))
        change.target = _target(record)
    return NormativeDocumentOut.model_validate(record)


@router.put("/normative-documents/{record_id}")
async def update_document(
    org: str, record_id: int, data: NormativeDocumentIn, principal: PrincipalDep
) -> NormativeDocumentOut:
    owner = await _org(principal, org)
    record = await _owned(NormativeDocument, owner, record_id)
    async with _writing(principal, owner, "updated", _target(record)):
        await _save(record, data)
    return NormativeDocumentOut.model_validate(record)


@router.delete("/normative-documents/{record_id}", status_code=204)
async def delete_document(org: str, record_id: int, principal: PrincipalDep) -> None:
    owner = await _org(principal, org)
    record = await _owned(NormativeDocument, owner, record_id)
    async with _writing(principal, owner, "deleted", _target(record)):
        await record.delete()


# 行政复议 and 行政诉讼


@router.get("/cases")
async def list_cases(org: str, principal: PrincipalDep, year: YearFilter = None) -> list[CaseOut]:
    rows = await _list(Case, await _org(principal, org), "received_on", year)
    return [CaseOut.model_validate(row) for row in rows]


@router.post("/cases", status_code=201)
async def create_case(org: str, data: CaseIn, principal: PrincipalDep) -> CaseOut:
    owner = await _org(principal, org)
    async with _writing(principal, owner, "created") as change:
        record = await Case.create(organization=owner, **_dump(data))
        change.target = _target(record)
    return CaseOut.model_validate(record)


@router.put("/cases/{record_id}")
async def update_case(org: str, record_id: int, data: CaseIn, principal: PrincipalDep) -> CaseOut:
    owner = await _org(principal, org)
    record = await _owned(Case, owner, record_id)
    async with _writing(principal, owner, "updated", _target(record)):
        await _save(record, data)
    return CaseOut.model_validate(record)


@router.delete("/cases/{record_id}", status_code=204)
async def delete_case(org: str, record_id: int, principal: PrincipalDep) -> None:
    owner = await _org(principal, org)
    record = await _owned(Case, owner, record_id)
    async with _writing(principal, owner, "deleted", _target(record)):
        await record.delete()


# 举报投诉


@router.get("/complaints")
async def list_complaints(
    org: str, principal: PrincipalDep, year: YearFilter = None
) -> list[ComplaintOut]:
    rows = await _list(Complaint, await _org(principal, org), "received_on", year)
    return [ComplaintOut.model_validate(row) for row in rows]


@router.post("/complaints", status_code=201)
async def create_complaint(org: str, data: ComplaintIn, principal: PrincipalDep) -> ComplaintOut:
    owner = await _org(principal, org)
    async with _writing(principal, owner, "created") as change:
        record = await Complaint.create(organization=owner, **_dump(data))
        change.target = _target(record)
    return ComplaintOut.model_validate(record)


@router.put("/complaints/{record_id}")
async def update_complaint(
    org: str, record_id: int, data: ComplaintIn, principal: PrincipalDep
) -> ComplaintOut:
    owner = await _org(principal, org)
    record = await _owned(Complaint, owner, record_id)
    async with _writing(principal, owner, "updated", _target(record)):
        await _save(record, data)
    return ComplaintOut.model_validate(record)


@router.delete("/complaints/{record_id}", status_code=204)
async def delete_complaint(org: str, record_id: int, principal: PrincipalDep) -> None:
    owner = await _org(principal, org)
    record = await _owned(Complaint, owner, record_id)
    async with _writing(principal, owner, "deleted", _target(record)):
        await record.delete()


# One record per organization and year: decisions, institutional facts, texts


@router.get("/decisions/{year}")
async def get_decisions(org: str, year: Year, principal: PrincipalDep) -> DecisionsOut:
    """The year's decision counts and fees; zeros when nothing is entered yet."""
    owner = await _org(principal, org)
    record = await AdminDecisionCount.get_or_none(organization_id=owner.id, year=year)
    return DecisionsOut.model_validate(
        record or AdminDecisionCount(year=year, **_dump(DecisionsIn()))
    )


@router.put("/decisions/{year}")
async def put_decisions(
    org: str, year: Year, data: DecisionsIn, principal: PrincipalDep
) -> DecisionsOut:
    owner = await _org(principal, org)
    async with _writing(principal, owner, "saved", f"admindecisioncount:{year}"):
        record = await _upsert(AdminDecisionCount, owner, year, data)
    return DecisionsOut.model_validate(record)


@router.get("/facts/{year}")
async def get_facts(org: str, year: Year, principal: PrincipalDep) -> FactsOut:
    """The year's institutional facts; zeros when nothing is entered yet."""
    owner = await _org(principal, org)
    record = await InstitutionalFacts.get_or_none(organization_id=owner.id, year=year)
    return FactsOut.model_validate(record or InstitutionalFacts(year=year, **_dump(FactsIn())))


@router.put("/facts/{year}")
async def put_facts(org: str, year: Year, data: FactsIn, principal: PrincipalDep) -> FactsOut:
    owner = await _org(principal, org)
    async with _writing(principal, owner, "saved", f"institutionalfacts:{year}"):
        record = await _upsert(InstitutionalFacts, owner, year, data)
    return FactsOut.model_validate(record)


@router.get("/texts/{year}")
async def get_texts(org: str, year: Year, principal: PrincipalDep) -> TextsOut:
    """The year's texts, or a draft copied from the latest earlier year (draft: true)."""
    text = await report_text(await _org(principal, org), year)
    return TextsOut.model_validate(text).model_copy(update={"draft": text.pk is None})


@router.put("/texts/{year}")
async def put_texts(org: str, year: Year, data: TextsIn, principal: PrincipalDep) -> TextsOut:
    owner = await _org(principal, org)
    async with _writing(principal, owner, "saved", f"reporttext:{year}"):
        record = await _upsert(ReportText, owner, year, data)
    return TextsOut.model_validate(record)
