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
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class RecordRoutes:
    """One list register's four routes: what FastAPI names them and what they carry."""

    path: str  # under /api/v1/orgs/{org}, e.g. "/applications"
    noun: str  # the route names: list_{plural}, create_{noun}, update_{noun}, delete_{noun}
    plural: str
    model: type[Model]
    schema_in: type[BaseModel]
    schema_out: type[BaseModel]
    date_field: str  # the day a year filters on
    list_doc: str | None = None  # the list route's description in the OpenAPI document


def add_record_routes(target: APIRouter, spec: RecordRoutes) -> None:
    """List, create, update and delete ``spec.model`` records of one organization: reading
    needs any role in it, changing needs an editor or admin and leaves an audit row."""
    model, schema_in, schema_out = spec.model, spec.schema_in, spec.schema_out

    async def list_records(
        org: str, principal: PrincipalDep, year: YearFilter = None
    ) -> list[BaseModel]:
        rows = await _list(model, await _org(principal, org), spec.date_field, year)
        return [schema_out.model_validate(row) for row in rows]

    async def create_record(org: str, data: BaseModel, principal: PrincipalDep) -> BaseModel:
        owner = await _org(principal, org)
        async with _writing(principal, owner, "created") as change:
            record = await model.create(organization=owner, **_dump(data))
            change.target = _target(record)
        return schema_out.model_validate(record)

    async def update_record(
        org: str, record_id: int, data: BaseModel, principal: PrincipalDep
    ) -> BaseModel:
        owner = await _org(principal, org)
        record = await _owned(model, owner, record_id)
        async with _writing(principal, owner, "updated", _target(record)):
            await _save(record, data)
        return schema_out.model_validate(record)

    async def delete_record(org: str, record_id: int, principal: PrincipalDep) -> None:
        owner = await _org(principal, org)
        record = await _owned(model, owner, record_id)
        async with _writing(principal, owner, "deleted", _target(record)):
            await record.delete()

    # The body parameter's type is the register's own schema, so FastAPI validates it and
    # the OpenAPI document names it (ApplicationIn…) as it did for the hand-written routes.
    for endpoint in (create_record, update_record):
        endpoint.__annotations__["data"] = schema_in
    one, many = f"{spec.path}/{{record_id}}", spec.path
    target.add_api_route(
        many, list_records, methods=["GET"], name=f"list_{spec.plural}",
        response_model=list[schema_out], description=spec.list_doc,  # type: ignore[valid-type]
    )  # fmt: skip
    target.add_api_route(
        many, create_record, methods=["POST"], name=f"create_{spec.noun}",
        response_model=schema_out, status_code=201,
    )  # fmt: skip
    target.add_api_route(
        one, update_record, methods=["PUT"], name=f"update_{spec.noun}", response_model=schema_out
    )
    target.add_api_route(
        one, delete_record, methods=["DELETE"], name=f"delete_{spec.noun}", status_code=204
    )


RECORD_ROUTES = (
    RecordRoutes(
        "/applications", "application", "applications", Application, ApplicationIn,
        ApplicationOut, "received_on", "Applications received in ``year`` (or all), oldest first.",
    ),
    RecordRoutes(
        "/responses", "response", "responses", Response, ResponseIn, ResponseOut, "occurred_on"
    ),
    RecordRoutes(
        "/normative-documents", "document", "documents", NormativeDocument, NormativeDocumentIn,
        NormativeDocumentOut, "issued_on", "Documents issued in ``year`` (or all), oldest first.",
    ),
    RecordRoutes("/cases", "case", "cases", Case, CaseIn, CaseOut, "received_on"),
    RecordRoutes(
        "/complaints", "complaint", "complaints", Complaint, ComplaintIn, ComplaintOut,
        "received_on",
    ),
)  # fmt: skip
for _spec in RECORD_ROUTES:
    add_record_routes(router, _spec)


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
