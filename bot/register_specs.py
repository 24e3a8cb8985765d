"""What each report register holds, as a clerk sees it: Chinese column names, choices, and
the validation of bot.web.register_schemas with its messages in Chinese.

The console pages and the spreadsheet import both parse through ``parse``, so a value is
accepted or refused the same way by the API, a form and a spreadsheet row.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ValidationError
from tortoise.models import Model

from bot.applications import OUTCOME_CHOICES
from bot.web.register_schemas import (
    ApplicationIn,
    CaseIn,
    ComplaintIn,
    DecisionsIn,
    FactsIn,
    NormativeDocumentIn,
    ResponseIn,
)
from storage.register_models import (
    APPLICANT_TYPES,
    APPLICATION_CHANNELS,
    AdminDecisionCount,
    Application,
    Case,
    Complaint,
    InstitutionalFacts,
    NormativeDocument,
    Response,
)

# The desk's schemas are the JSON API's (bot.web.register_schemas): one validation for a
# form, a spreadsheet row and an API call. Only the console links a document to its item.
ApplicationDeskIn = ApplicationIn
DecisionsDeskIn = DecisionsIn


class DocumentDeskIn(NormativeDocumentIn):
    """A 规章 or 规范性文件 with the item that published it (set by the console's link)."""

    item_id: int | None = None


RESPONSE_KIND_LABELS = {
    "hotspot": "回应热点",
    "interpretation": "政策解读",
    "other": "其他方式回应",
}
CASE_KIND_LABELS = {
    "review": "行政复议",
    "suit_direct": "行政诉讼（未经复议直接起诉）",
    "suit_after_review": "行政诉讼（复议后起诉）",
}
CASE_OUTCOME_LABELS = {
    "pending": "尚未审结",
    "upheld": "结果维持",
    "corrected": "结果纠正",
    "other": "其他结果",
}


@dataclass(frozen=True, slots=True)
class Column:
    """One field: its name in the schema, its Chinese label, its kind and choices."""

    name: str
    label: str
    kind: str = "text"  # text, textarea, date, int, money, choice, bool
    choices: tuple[tuple[str, str], ...] = ()  # (stored value, label)
    required: bool = False
    help: str = ""

    def label_of(self, value: object) -> str:
        for stored, label in self.choices:
            if stored == value:
                return label
        if value is None:
            return ""
        if isinstance(value, bool):
            return "是" if value else "否"
        return str(value)

    def from_cell(self, raw: object) -> object:
        """A spreadsheet or form value as the schema wants it (labels → stored values)."""
        if raw is None:
            return None
        if isinstance(raw, dt.datetime):
            return raw.date().isoformat()
        if isinstance(raw, dt.date):
            return raw.isoformat()
        text = str(raw).strip()
        if isinstance(raw, float) and raw.is_integer() and self.kind in ("int", "money"):
            text = str(int(raw))
        if text == "":
            return None
        if self.choices:
            for stored, label in self.choices:
                if text in (label, stored):
                    return stored
            return text
        if self.kind == "bool":
            return text in ("是", "1", "true", "True", "on", "yes")
        return text


def _choices(values: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    return tuple((v, v) for v in values)


@dataclass(frozen=True, slots=True)
class Register:
    """One register: its key in URLs, Chinese name, model, schema and columns."""

    key: str
    label: str
    model: type[Model]
    schema: type[BaseModel]
    columns: tuple[Column, ...]
    date_field: str = ""  # the field a year filters on; "" for one record per year
    per_year: bool = False
    extra_labels: dict[str, str] = field(default_factory=dict)

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    def label_for(self, name: str) -> str:
        col = self.column(name)
        return col.label if col else self.extra_labels.get(name, name)


APPLICATIONS = Register(
    "applications",
    "依申请公开",
    Application,
    ApplicationDeskIn,
    (
        Column("received_on", "收到申请日期", "date", required=True),
        Column("channel", "申请方式", "choice", _choices(APPLICATION_CHANNELS[:4]), True),
        Column("applicant_type", "申请人类别", "choice", _choices(APPLICANT_TYPES), True),
        Column("applicant_name", "申请人姓名或名称"),
        Column("request", "申请内容", "textarea", required=True),
        Column("outcome", "办理结果", "choice", OUTCOME_CHOICES),
        Column("replied_on", "答复日期", "date"),
        Column("extension_workdays", "批准延期（工作日）", "int"),
        Column("paused_workdays", "征求意见不计时（工作日）", "int"),
        Column("corrected_on", "补正到达日期", "date"),
        Column("fee_yuan", "信息处理费（元）", "money"),
    ),
    date_field="received_on",
)
RESPONSES = Register(
    "responses",
    "回应解读",
    Response,
    ResponseIn,
    (
        Column("kind", "类别", "choice", tuple(RESPONSE_KIND_LABELS.items()), True),
        Column("title", "标题或事件", required=True),
        Column("channel", "方式或渠道", help="如：新闻发布会、政府网站、政务微信"),
        Column("occurred_on", "日期", "date", required=True),
    ),
    date_field="occurred_on",
)
DOCUMENTS = Register(
    "documents",
    "规范性文件",
    NormativeDocument,
    DocumentDeskIn,
    (
        Column("kind", "类别", "choice", _choices(("行政规范性文件", "规章")), True),
        Column("title", "文件名称", required=True),
        Column("doc_number", "文号"),
        Column("issued_on", "制发日期", "date", required=True),
        Column("validity", "有效性", "choice", _choices(("有效", "失效", "废止"))),
        Column("repealed_on", "废止或失效日期", "date"),
    ),
    date_field="issued_on",
)
CASES = Register(
    "cases",
    "复议诉讼",
    Case,
    CaseIn,
    (
        Column("kind", "类别", "choice", tuple(CASE_KIND_LABELS.items()), True),
        Column("received_on", "收到日期", "date", required=True),
        Column("outcome", "结果", "choice", tuple(CASE_OUTCOME_LABELS.items())),
        Column("closed_on", "审结日期", "date"),
    ),
    date_field="received_on",
)
COMPLAINTS = Register(
    "complaints",
    "举报投诉",
    Complaint,
    ComplaintIn,
    (
        Column("received_on", "收到日期", "date", required=True),
        Column("summary", "内容摘要", "textarea", required=True),
    ),
    date_field="received_on",
)
DECISIONS = Register(
    "decisions",
    "许可处罚强制",
    AdminDecisionCount,
    DecisionsDeskIn,
    (
        Column("licensing", "行政许可 处理决定数量", "int"),
        Column("penalty", "行政处罚 处理决定数量", "int"),
        Column("enforcement", "行政强制 处理决定数量", "int"),
        Column("admin_fees_wan", "行政事业性收费 金额（万元）", "money"),
        Column("other_services", "其他对外管理服务事项 处理决定数量（2019年样式）", "int"),
        Column("licensing_prev", "行政许可 上一年项目数量（2019年样式）", "int"),
        Column("licensing_change", "行政许可 本年增/减（2019年样式）", "int"),
        Column("other_services_prev", "其他对外管理服务事项 上一年项目数量", "int"),
        Column("other_services_change", "其他对外管理服务事项 本年增/减", "int"),
        Column("penalty_prev", "行政处罚 上一年项目数量（2019年样式）", "int"),
        Column("penalty_change", "行政处罚 本年增/减（2019年样式）", "int"),
        Column("enforcement_prev", "行政强制 上一年项目数量（2019年样式）", "int"),
        Column("enforcement_change", "行政强制 本年增/减（2019年样式）", "int"),
        Column("fees_prev", "行政事业性收费 上一年项目数量（2019年样式）", "int"),
        Column("fees_change", "行政事业性收费 本年增/减（2019年样式）", "int"),
        Column("procurement_projects", "政府集中采购 采购项目数量（2019年样式）", "int"),
        Column("procurement_amount_wan", "政府集中采购 采购总金额（万元，2019年样式）", "money"),
    ),
    per_year=True,
)
FACTS = Register(
    "facts",
    "机构人员经费",
    InstitutionalFacts,
    FactsIn,
    (
        Column("dedicated_units", "政府信息公开专门机构数（个）", "int"),
        Column("reading_points", "政府信息公开查阅点数（个）", "int"),
        Column("staff_full_time", "专职工作人员（人）", "int"),
        Column("staff_part_time", "兼职工作人员（人）", "int"),
        Column("funds_wan", "政府信息公开专项经费（万元）", "money"),
        Column("meetings", "召开工作会议或专题会议（次）", "int"),
        Column("trainings", "举办培训班（次）", "int"),
        Column("trainees", "接受培训人员（人次）", "int"),
    ),
    per_year=True,
)
REGISTERS: dict[str, Register] = {
    r.key: r for r in (APPLICATIONS, RESPONSES, DOCUMENTS, CASES, COMPLAINTS, DECISIONS, FACTS)
}
LIST_REGISTERS = tuple(r for r in REGISTERS.values() if not r.per_year)


def _message(error: dict[str, Any]) -> str:
    """A pydantic error in Chinese."""
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "必须填写"
    if kind == "literal_error":
        return f"只能填写：{ctx.get('expected', '')}".replace("'", "").replace(" or ", "、")
    if kind.startswith("date"):
        return "应为日期，格式如 2025-03-01"
    if kind in ("int_parsing", "int_from_float", "int_type"):
        return "应为整数"
    if kind in ("decimal_parsing", "decimal_type", "float_parsing"):
        return "应为数字"
    if kind == "decimal_max_places":
        return f"小数不能超过 {ctx.get('decimal_places')} 位"
    if kind in ("decimal_max_digits", "decimal_whole_digits"):
        return "数字位数过多"
    if kind == "greater_than_equal":
        return f"不能小于 {ctx.get('ge')}"
    if kind == "less_than_equal":
        return f"不能大于 {ctx.get('le')}"
    if kind == "string_too_long":
        return f"不能超过 {ctx.get('max_length')} 个字"
    if kind == "string_too_short":
        return "必须填写"
    if kind == "bool_parsing":
        return "应为“是”或“否”"
    if kind == "extra_forbidden":
        return "不是这张表的栏目"
    text = str(ctx.get("error") or error.get("msg", ""))
    return _translate(text)


def _translate(text: str) -> str:
    found = re.search(r"must not be later than (\d{4}-\d{2}-\d{2})", text)
    if found:
        return f"不能晚于 {found.group(1)}"
    found = re.search(r"must not be before (\w+) \((\d{4}-\d{2}-\d{2})\)", text)
    if found:
        return f"不能早于{_FIELD_NAMES.get(found.group(1), found.group(1))}（{found.group(2)}）"
    if "replied_on and outcome together" in text:
        return "答复日期和办理结果须同时填写（尚未答复时都不填）"
    if "closed_on exactly when" in text:
        return "已审结的须填写审结日期和结果；尚未审结的不填审结日期"
    if "required when validity" in text:
        return "失效或废止的文件须填写废止或失效日期"
    if "table 三 result row" in text:
        return "请从列表中选择办理结果"
    return text or "填写有误"


_FIELD_NAMES = {
    "received_on": "收到日期",
    "issued_on": "制发日期",
    "corrected_on": "补正到达日期",
}


@dataclass
class Parsed:
    """A validated record (values ready to store) or the errors by field, in Chinese."""

    values: dict[str, Any] | None
    errors: dict[str, str]


def parse(
    register: Register, raw: dict[str, object], *, base: dict[str, Any] | None = None
) -> Parsed:
    """Validate ``raw`` (labels or stored values, as strings or cells) against the register's
    schema; ``base`` gives the other fields of a record being changed."""
    data: dict[str, Any] = dict(base or {})
    errors: dict[str, str] = {}
    for name, value in raw.items():
        column = register.column(name)
        converted = column.from_cell(value) if column else value
        if column and column.kind == "money" and converted is not None:
            try:
                Decimal(str(converted))
            except InvalidOperation:
                errors[name] = "应为数字"
                continue
        if converted is None:
            data.pop(name, None)
            if column and column.required:
                errors[name] = "必须填写"
            continue
        data[name] = converted
    if errors:
        return Parsed(None, errors)
    try:
        model = register.schema.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            loc = error.get("loc") or ("",)
            name = str(loc[0]) if loc else ""
            errors.setdefault(name, _message(dict(error)))
        return Parsed(None, errors)
    return Parsed(model.model_dump(), {})


def stored_values(register: Register, record: Model) -> dict[str, Any]:
    """The schema fields of a stored record (to change a few of them and validate again)."""
    names = register.schema.model_fields
    return {name: getattr(record, name) for name in names if hasattr(record, name)}
