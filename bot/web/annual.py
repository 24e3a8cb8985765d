"""GET /api/v1/reports/{org}/{year}/annual: the annual report as .docx, HTML, Markdown or JSON."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Path, Query, Response, status

from bot.annual.export import (
    EXPORT_KINDS,
    MEDIA_TYPES,
    ExportKind,
    build_report,
    default_format,
    export,
)
from bot.annual.formats import Format
from bot.annual.source import figures_for_report
from bot.web.deps import PrincipalDep, RuntimeDep, org_for

router = APIRouter(prefix="/api/v1")

# Media types a client may ask for in Accept, and the export each one selects.
_ACCEPTED: dict[str, ExportKind] = {
    MEDIA_TYPES["docx"].split(";")[0]: "docx",
    "application/msword": "docx",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "text/markdown": "md",
    "text/x-markdown": "md",
    "application/json": "json",
    "application/*": "json",
    "text/*": "html",
    "*/*": "json",
}


def negotiate(accept: str | None) -> ExportKind | None:
    """The export kind the Accept header prefers (highest q first), or None if none fits."""
    if not accept:
        return "json"
    offers: list[tuple[float, int, ExportKind]] = []
    for index, part in enumerate(accept.split(",")):
        media, *params = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        kind = _ACCEPTED.get(media.lower())
        if kind is not None and quality > 0:
            offers.append((-quality, index, kind))
    return min(offers)[2] if offers else None


@router.get(
    "/reports/{org}/{year}/annual",
    responses={
        200: {
            "description": "The report, in the kind asked for by `as` or the Accept header.",
            "content": {MEDIA_TYPES[kind].split(";")[0]: {} for kind in EXPORT_KINDS},
        }
    },
)
async def annual_report(
    principal: PrincipalDep,
    runtime: RuntimeDep,
    org: str,
    year: Annotated[int, Path(ge=2008, le=2100, description="Report year.")],
    fmt: Annotated[
        Format | None,
        Query(alias="format", description="seed, 2019 or 2021; default: the year's format."),
    ] = None,
    as_kind: Annotated[
        ExportKind | None,
        Query(alias="as", description="docx, html, md or json; overrides the Accept header."),
    ] = None,
    include_unsubmitted: Annotated[
        bool,
        Query(
            description="A county's rollup: also sum the figures of organizations that have "
            "not submitted the year's data (they are named either way)."
        ),
    ] = False,
    accept: Annotated[str | None, Header()] = None,
) -> Response:
    """Generate the annual report from data, validated; the findings travel with it."""
    kind = as_kind or negotiate(accept)
    if kind is None:
        raise HTTPException(
            status.HTTP_406_NOT_ACCEPTABLE,
            "ask for .docx, text/html, text/markdown or application/json (or use ?as=)",
        )
    organization = await org_for(principal, org)
    figures, notes = await figures_for_report(
        organization, year, calendar=runtime.calendar, include_unsubmitted=include_unsubmitted
    )
    chosen = fmt or default_format(year)
    doc, findings = build_report(figures, chosen)
    findings += notes
    body = export(kind, doc, figures, findings)
    errors = sum(f.severity == "error" for f in findings)
    headers = {
        "X-Report-Format": chosen,
        "X-Report-Errors": str(errors),
        "X-Report-Warnings": str(len(findings) - errors),
        "Vary": "Accept",
    }
    if kind == "docx":
        name = f"{organization.code}-{year}-annual-{chosen}.docx"
        headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return Response(body, media_type=MEDIA_TYPES[kind], headers=headers)
