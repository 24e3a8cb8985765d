"""Export a report document: .docx (GB/T 9704), a printable HTML page, Markdown and JSON."""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import json
import re
from decimal import Decimal
from pathlib import PurePath
from typing import Any, Literal, get_args

from bot.annual.document import Document, Finding, Heading, Paragraph, Table
from bot.annual.export_grid import has_merges, is_number, place
from bot.annual.figures import AnnualFigures, CaseCounts
from bot.annual.formats import Format, render
from bot.annual.validate import validate

__all__ = [
    "EXPORT_KINDS",
    "MEDIA_TYPES",
    "ExportKind",
    "build_report",
    "default_format",
    "export",
    "kind_for_path",
    "to_docx",
    "to_html",
    "to_json",
    "to_markdown",
]

ExportKind = Literal["docx", "html", "md", "json"]
EXPORT_KINDS: tuple[ExportKind, ...] = get_args(ExportKind)
MEDIA_TYPES: dict[ExportKind, str] = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "html": "text/html; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
    "json": "application/json",
}

_FONT_STACKS = {
    "title": '"方正小标宋简体", "FZXiaoBiaoSong-B05S", "Noto Serif CJK SC", "Source Han Serif SC",'
    ' "Songti SC", serif',
    "body": '"仿宋_GB2312", "仿宋", "FangSong", "STFangsong", "FandolFang", "Noto Serif CJK SC",'
    " serif",
    "hei": '"黑体", "SimHei", "FandolHei", "Noto Sans CJK SC", "Heiti SC", sans-serif',
    "kai": '"楷体_GB2312", "楷体", "KaiTi", "STKaiti", "FandolKai", serif',
    "song": '"宋体", "SimSun", "FandolSong", "Noto Serif CJK SC", "Songti SC", serif',
}

_CSS = f"""
@page {{ size: A4; margin: 37mm 26mm 35mm 28mm; }}
html {{ background: #f4f4f4; }}
body {{ font-family: {_FONT_STACKS["body"]}; font-size: 16pt; line-height: 28.95pt;
  color: #000; background: #fff; max-width: 156mm; margin: 2rem auto;
  padding: 37mm 26mm 35mm 28mm; box-shadow: 0 0 6px rgba(0, 0, 0, .15); }}
@media print {{ html {{ background: none; }}
  body {{ margin: 0; padding: 0; max-width: none; box-shadow: none; }} }}
h1 {{ font-family: {_FONT_STACKS["title"]}; font-size: 22pt; line-height: 35pt;
  font-weight: bold; text-align: center; margin: 0; }}
p.date {{ font-family: {_FONT_STACKS["kai"]}; text-align: center; margin: 0; }}
header {{ margin-bottom: 28.95pt; }}
h2, h3, h4 {{ font-size: 16pt; line-height: 28.95pt; margin: 0; text-indent: 2em;
  page-break-after: avoid; }}
h2 {{ font-family: {_FONT_STACKS["hei"]}; font-weight: normal; }}
h3 {{ font-family: {_FONT_STACKS["kai"]}; font-weight: normal; }}
h4 {{ font-weight: bold; }}
p {{ margin: 0; text-align: justify; overflow-wrap: anywhere; }}
footer.sign-off {{ margin-top: 28.95pt; text-align: right; padding-right: 2em; }}
footer.sign-off p {{ text-align: right; }}
footer.sign-off p.signed-on {{ padding-right: 2em; }}
p.indent {{ text-indent: 2em; }}
.lead {{ font-family: {_FONT_STACKS["kai"]}; }}
figure {{ margin: 0 0 28.95pt 0; }}
figcaption {{ font-family: {_FONT_STACKS["hei"]}; text-align: center; }}
table {{ border-collapse: collapse; width: 100%; font-family: {_FONT_STACKS["song"]};
  font-size: 10.5pt; line-height: 1.35; page-break-inside: auto; }}
th, td {{ border: 0.5pt solid #000; padding: 2pt 3pt; vertical-align: middle; }}
th {{ font-weight: bold; text-align: center; }}
td.left {{ text-align: left; }} td.center, td.num {{ text-align: center; }}
td.right {{ text-align: right; }}
tr {{ page-break-inside: avoid; }}
""".strip()


def default_format(year: int) -> Format:
    """The format a report year calls for: 2021 from 2021, the 2019 trial format for 2019-20."""
    if year >= 2021:
        return "2021"
    if year >= 2019:
        return "2019"
    return "seed"


def kind_for_path(path: str | PurePath) -> ExportKind:
    """The export kind a file name asks for by its extension (.docx, .html/.htm, .md, .json)."""
    suffix = PurePath(path).suffix.lower().lstrip(".")
    kind = {"htm": "html", "markdown": "md"}.get(suffix, suffix)
    for known in EXPORT_KINDS:
        if kind == known:
            return known
    raise ValueError(f"{path}: unknown output kind; use .docx, .html, .md or .json")


def build_report(figures: AnnualFigures, fmt: Format) -> tuple[Document, list[Finding]]:
    """Validate the figures, then render them in the format: the document and the findings."""
    findings = validate(figures, fmt)
    return render(figures, fmt), findings


def to_docx(doc: Document) -> bytes:
    """The report as a .docx file (python-docx is loaded on the first export)."""
    from bot.annual.export_docx import to_docx as render_docx

    return render_docx(doc)


def export(
    kind: ExportKind,
    doc: Document,
    figures: AnnualFigures,
    findings: list[Finding],
) -> bytes:
    """Render one export kind as the bytes to write or send."""
    if kind == "docx":
        return to_docx(doc)
    if kind == "html":
        return to_html(doc).encode()
    if kind == "md":
        return to_markdown(doc).encode()
    return json.dumps(to_json(doc, figures, findings), ensure_ascii=False, indent=2).encode()


# ---------------------------------------------------------------------------- HTML


def to_html(doc: Document) -> str:
    """Render the document as a self-contained, printable zh-CN HTML page."""
    e = html.escape
    title = e("".join(doc.title_lines))
    parts = [
        "<!doctype html>",
        '<html lang="zh-CN">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width,initial-scale=1">',
        f"<title>{title}</title>",
        f"<style>\n{_CSS}\n</style>",
        "</head>",
        "<body>",
        "<header>",
    ]
    parts.append("<h1>" + "<br>".join(e(line) for line in doc.title_lines) + "</h1>")
    if doc.date_line:
        parts.append(f'<p class="date">{e(doc.date_line)}</p>')
    parts.append("</header>")
    parts.append("<main>")
    for block in doc.blocks:
        if isinstance(block, Heading):
            tag = f"h{block.level + 1}"
            parts.append(f"<{tag}>{e(block.text)}</{tag}>")
        elif isinstance(block, Paragraph):
            parts.append(_html_paragraph(block))
        else:
            parts.append(html_table(block, figure=True))
    organization, date = doc.sign_off
    if organization or date:
        signed = f'<p>{e(organization)}</p><p class="signed-on">{e(date)}</p>'
        parts.append(f'<footer class="sign-off">{signed}</footer>')
    parts += ["</main>", "</body>", "</html>", ""]
    return "\n".join(parts)


def _html_paragraph(block: Paragraph) -> str:
    e = html.escape
    lead = f'<span class="lead">{e(block.lead)}</span>' if block.lead else ""
    cls = ' class="indent"' if block.indent else ""
    return f"<p{cls}>{lead}{e(block.text)}</p>"


def html_table(table: Table, *, figure: bool = False, inline_style: bool = False) -> str:
    """Render one table as HTML with rowspan/colspan (one line per row, no blank lines)."""
    e = html.escape
    border = ' style="border:1px solid #000;border-collapse:collapse"' if inline_style else ""
    key = f' data-key="{e(table.key)}"' if table.key else ""
    lines = [f"<table{key}{border}>"]
    for row in place(table):
        cells = []
        for item in row:
            c = item.cell
            attrs = ""
            if c.rowspan > 1:
                attrs += f' rowspan="{c.rowspan}"'
            if c.colspan > 1:
                attrs += f' colspan="{c.colspan}"'
            if c.header:
                cells.append(f"<th{attrs}>{e(c.text)}</th>")
            else:
                cls = "num" if is_number(c.text) else c.align
                cells.append(f'<td class="{cls}"{attrs}>{e(c.text)}</td>')
        lines.append("<tr>" + "".join(cells) + "</tr>")
    lines.append("</table>")
    body = "\n".join(lines)
    if not figure:
        return body
    caption = f"<figcaption>{e(table.caption)}</figcaption>\n" if table.caption else ""
    return f"<figure>\n{caption}{body}\n</figure>"


# ---------------------------------------------------------------------------- Markdown

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#~])")
_MD_LIST_START = re.compile(r"^(\s*)(\d+)([.)])")
_MD_BULLET_START = re.compile(r"^(\s*)([-+])(\s)")


def _md_escape(text: str, *, line_start: bool = True) -> str:
    text = _MD_SPECIAL.sub(r"\\\1", text)
    if not line_start:
        return text
    text = _MD_LIST_START.sub(r"\1\2\\\3", text)
    return _MD_BULLET_START.sub(r"\1\\\2\3", text)


def to_markdown(doc: Document) -> str:
    """Render the document as Markdown; tables with merged cells become HTML blocks."""
    parts = [f"# {_md_escape(''.join(doc.title_lines), line_start=False)}"]
    if doc.date_line:
        parts.append(_md_escape(doc.date_line))
    for block in doc.blocks:
        if isinstance(block, Heading):
            text = _md_escape(block.text, line_start=False)
            parts.append(f"{'#' * (block.level + 1)} {text}")
        elif isinstance(block, Paragraph):
            lead = f"**{_md_escape(block.lead, line_start=False)}**" if block.lead else ""
            parts.append(lead + _md_escape(block.text, line_start=not lead))
        else:
            if block.caption:
                parts.append(f"**{_md_escape(block.caption)}**")
            parts.append(_md_table(block))
    parts += [_md_escape(line) for line in doc.sign_off if line]
    return "\n\n".join(parts) + "\n"


def _md_table(table: Table) -> str:
    if has_merges(table) or not table.rows:
        return html_table(table, inline_style=True)
    rows = [[_md_cell(c.text) for c in row] for row in table.rows]
    head, *rest = rows
    aligns = []
    for col in range(table.columns):
        first_body = rest[0][col] if rest else ""
        aligns.append(":---:" if not rest or is_number(first_body) else ":---")
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join(aligns) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rest]
    return "\n".join(lines)


def _md_cell(text: str) -> str:
    return _md_escape(text).replace("\n", "<br>") or " "


# ---------------------------------------------------------------------------- JSON


def to_json(doc: Document, figures: AnnualFigures, findings: list[Finding]) -> dict[str, Any]:
    """Return the figures (Decimals as strings), the document blocks and the findings."""
    return {
        "org": {"code": figures.org_code, "name": figures.org_name, "level": figures.level},
        "year": figures.year,
        "format": doc.format,
        "figures": _plain(figures),
        "document": {
            "title_lines": list(doc.title_lines),
            "date_line": doc.date_line,
            "format": doc.format,
            "blocks": [_block_json(block) for block in doc.blocks],
            "sign_off": {"organization": doc.sign_off[0], "date": doc.sign_off[1]},
        },
        "rollup": {
            "missing": list(figures.rollup_missing),
            "missing_counted": figures.rollup_counts_missing,
        },
        "findings": [dataclasses.asdict(f) for f in findings],
        "valid": not any(f.severity == "error" for f in findings),
    }


def _block_json(block: Heading | Paragraph | Table) -> dict[str, Any]:
    if isinstance(block, Heading):
        return {"type": "heading", "level": block.level, "text": block.text}
    if isinstance(block, Paragraph):
        return {"type": "paragraph", "text": block.text, "indent": block.indent, "lead": block.lead}
    return {
        "type": "table",
        "key": block.key,
        "caption": block.caption,
        "columns": block.columns,
        "rows": [[dataclasses.asdict(c) for c in row] for row in block.rows],
    }


def _plain(value: Any) -> Any:
    """Turn figures into JSON values: Decimal → str, date → ISO, dataclass → dict."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, CaseCounts):
            out["total"] = value.total
        return out
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
