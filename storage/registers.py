"""Writing the report registers: one record, one year's figures, or a whole import.

The console's register pages and spreadsheet import write through these functions; each
change and its audit row are stored in one transaction (both or neither). Values arrive
already validated (the register schemas of bot.web.register_schemas), as plain dicts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from tortoise.models import Model
from tortoise.transactions import in_transaction

from storage import audit
from storage.models import Item
from storage.register_models import NormativeDocument

M = TypeVar("M", bound=Model)

__all__ = [
    "Actor",
    "create_record",
    "delete_record",
    "import_records",
    "link_normative_item",
    "normative_issued_in",
    "normative_register",
    "update_record",
    "upsert_year",
]


@dataclass(frozen=True, slots=True)
class Actor:
    """Who makes the change, for the audit log."""

    user_id: int | None
    username: str
    ip: str = ""


def _target(record: Model) -> str:
    return f"{type(record).__name__.lower()}:{record.pk}"


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dt.date | dt.datetime):
            out[key] = value.isoformat()
        elif isinstance(value, int | bool | str | float) or value is None:
            out[key] = value
        else:
            out[key] = str(value)
    return out


async def _log(actor: Actor, action: str, org_id: int, target: str, detail: dict[str, Any]) -> None:
    await audit.record(
        f"register.{action}",
        user_id=actor.user_id,
        username=actor.username,
        organization_id=org_id,
        target=target,
        detail=detail,
        ip=actor.ip,
    )


async def create_record(model: type[M], org_id: int, values: dict[str, Any], actor: Actor) -> M:
    """A new record of ``org_id`` with its audit row."""
    async with in_transaction():
        record = await model.create(organization_id=org_id, **values)
        await _log(actor, "created", org_id, _target(record), _jsonable(values))
    return record


async def update_record(
    record: M, values: dict[str, Any], actor: Actor, *, action: str = "updated"
) -> M:
    """Change ``record`` to ``values`` with its audit row (the changed fields only)."""
    changed = {k: v for k, v in values.items() if getattr(record, k, None) != v}
    org_id = int(record.organization_id)  # type: ignore[attr-defined]
    async with in_transaction():
        record.update_from_dict(values)
        await record.save()
        await _log(actor, action, org_id, _target(record), _jsonable(changed))
    return record


async def delete_record(record: Model, actor: Actor) -> None:
    org_id = int(record.organization_id)  # type: ignore[attr-defined]
    async with in_transaction():
        target = _target(record)
        await record.delete()
        await _log(actor, "deleted", org_id, target, {})


async def upsert_year(
    model: type[M], org_id: int, year: int, values: dict[str, Any], actor: Actor
) -> M:
    """The one record of ``org_id`` and ``year`` set to ``values``, with its audit row."""
    async with in_transaction():
        record, created = await model.update_or_create(
            defaults=values, organization_id=org_id, year=year
        )
        action = "created" if created else "updated"
        await _log(actor, action, org_id, _target(record), {"year": year, **_jsonable(values)})
    return record


async def import_records(
    model: type[M], org_id: int, rows: Sequence[dict[str, Any]], actor: Actor, *, source: str
) -> list[M]:
    """Store every row or none: one transaction, one audit row naming the file. Rows with a
    ``year`` key set that year's one record (registers kept per year)."""
    async with in_transaction():
        created = []
        for values in rows:
            if "year" in values:
                fields = {k: v for k, v in values.items() if k != "year"}
                record, _ = await model.update_or_create(
                    defaults=fields, organization_id=org_id, year=values["year"]
                )
            else:
                record = await model.create(organization_id=org_id, **values)
            created.append(record)
        await _log(
            actor,
            "imported",
            org_id,
            f"{model.__name__.lower()}:{len(created)}",
            {"file": source[:100], "rows": len(created)},
        )
    return created


async def link_normative_item(item: Item, actor: Actor) -> NormativeDocument:
    """The 规范性文件 register entry of a normative item: linked if one matches (same 文号,
    or same title, not yet linked), else created from the item; audited either way."""
    lineage = item.lineage_id or item.id
    linked = await NormativeDocument.get_or_none(organization_id=item.organization_id,
                                                 item_id=lineage)  # fmt: skip
    if linked is not None:
        return linked
    query = NormativeDocument.filter(organization_id=item.organization_id, item_id=None)
    match = None
    if item.doc_number:
        match = await query.filter(doc_number=item.doc_number).first()
    if match is None:
        match = await query.filter(title=item.title).first()
    async with in_transaction():
        if match is not None:
            match.item_id = lineage
            await match.save(update_fields=["item_id"])
            action, record = "linked", match
        else:
            issued = item.formed_on or item.publish_at.date()
            record = await NormativeDocument.create(
                organization_id=item.organization_id,
                kind="行政规范性文件",
                title=item.title[:200],
                doc_number=item.doc_number,
                issued_on=issued,
                item_id=lineage,
            )
            action = "created"
        await _log(
            actor, action, item.organization_id, _target(record),
            {"item": lineage, "title": item.title[:100]},
        )  # fmt: skip
    return record


async def normative_register(org_id: int, end: dt.date) -> list[NormativeDocument]:
    """The 规范性文件 register up to ``end``: its entries, plus an unsaved entry for each item
    marked 规范性文件 (by 成文日期) that no entry links to, so that the sentence
    "制发规范性文件X件" and table 二 count the same documents."""
    docs = list(await NormativeDocument.filter(organization_id=org_id, issued_on__lte=end))
    linked = {doc.item_id for doc in docs if doc.item_id is not None}
    items = (
        await Item.filter(organization_id=org_id, normative=True, formed_on__lte=end)
        .exclude(status="cancelled")
        .order_by("id")
    )
    latest: dict[int, Item] = {}
    for item in items:
        latest[item.lineage_id or item.id] = item
    for lineage, item in latest.items():
        if lineage not in linked and item.formed_on is not None:
            docs.append(
                NormativeDocument(
                    organization_id=org_id,
                    kind="行政规范性文件",
                    title=item.title,
                    issued_on=item.formed_on,
                    item_id=lineage,
                )
            )
    return docs


async def normative_issued_in(org_id: int, year: int) -> int:
    """制发规范性文件: the register's 行政规范性文件 issued in ``year`` (see normative_register)."""
    docs = await normative_register(org_id, dt.date(year, 12, 31))
    return sum(d.kind == "行政规范性文件" and d.issued_on.year == year for d in docs)
