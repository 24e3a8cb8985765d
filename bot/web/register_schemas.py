"""The JSON shapes of the register endpoints; a rejected value's 422 names its field."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bot.annual.figures import RESULT_ROWS
from bot.web.text_rules import StrictInput
from storage.ledger import local_today


def _not_future(day: dt.date) -> dt.date:
    """Accept today and tomorrow (a clock near midnight), nothing later."""
    latest = local_today() + dt.timedelta(days=1)
    if day > latest:
        raise ValueError(f"must not be later than {latest.isoformat()}")
    return day


def _on_or_after(day: dt.date | None, info: ValidationInfo, earlier: str) -> None:
    start = info.data.get(earlier)
    if day is not None and isinstance(start, dt.date) and day < start:
        raise ValueError(f"must not be before {earlier} ({start.isoformat()})")


Day = Annotated[dt.date, AfterValidator(_not_future)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Count = Annotated[int, Field(ge=0, le=100_000_000)]
Change = Annotated[int, Field(ge=-100_000_000, le=100_000_000)]  # 本年增/减
Yuan = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]
Wan = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=4)]  # 万元
Narrative = Annotated[str, Field(max_length=50_000)]
# Out: always the stored scale, whatever scale the input had ("100" → "100.00").
YuanOut = Annotated[Decimal, AfterValidator(lambda d: d.quantize(Decimal("0.01")))]
WanOut = Annotated[Decimal, AfterValidator(lambda d: d.quantize(Decimal("0.0001")))]
AppChannel = Literal["当面", "网络", "信函", "传真", "其他"]
ApplicantType = Literal["自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他"]
ResponseKind = Literal["hotspot", "interpretation", "other"]
DocumentKind = Literal["规章", "行政规范性文件"]
CaseKind = Literal["review", "suit_direct", "suit_after_review"]
CaseOutcome = Literal["upheld", "corrected", "other", "pending"]
Level = Literal["", "township", "county", "city", "province", "department"]


class _In(StrictInput):
    """Request bodies: unknown fields, control and bidi characters are refused (422)."""


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ApplicationIn(_In):
    """A 依申请公开 request; outcome and replied_on are given together once it is answered."""

    received_on: Day
    channel: AppChannel
    applicant_type: ApplicantType
    request: Text
    corrected_on: Day | None = None
    extension_workdays: int = Field(default=0, ge=0, le=20)
    paused_workdays: int = Field(default=0, ge=0, le=250)
    outcome: str | None = None  # a table 三 result row key
    replied_on: Day | None = Field(default=None, validate_default=True)
    fee_yuan: Yuan = Decimal(0)
    replies_already_public: bool = False
    # The desk's fields: who asked (for the 告知书), what the reply said, the fee's basis
    # under 国办函〔2020〕109号 and the pages supplied.
    applicant_name: str = Field(default="", max_length=100)
    reply_note: str = Field(default="", max_length=5000)
    fee_basis: Literal["", "按件", "按量"] = ""
    fee_pages: int = Field(default=0, ge=0, le=1_000_000)

    @field_validator("corrected_on")
    @classmethod
    def _corrected_after_receipt(cls, day: dt.date | None, info: ValidationInfo) -> dt.date | None:
        _on_or_after(day, info, "received_on")
        return day

    @field_validator("outcome")
    @classmethod
    def _known_row(cls, outcome: str | None) -> str | None:
        if outcome is not None and outcome not in RESULT_ROWS:
            raise ValueError(f"must be a table 三 result row: {', '.join(RESULT_ROWS)}")
        return outcome

    @field_validator("replied_on")
    @classmethod
    def _replied_with_outcome(cls, day: dt.date | None, info: ValidationInfo) -> dt.date | None:
        _on_or_after(day, info, "received_on")
        _on_or_after(day, info, "corrected_on")
        if "outcome" in info.data and (day is None) != (info.data["outcome"] is None):
            raise ValueError("give replied_on and outcome together, or neither while open")
        return day


class ApplicationOut(_Out):
    id: int
    received_on: dt.date
    channel: str
    applicant_type: str
    request: str
    corrected_on: dt.date | None
    extension_workdays: int
    paused_workdays: int
    outcome: str | None
    replied_on: dt.date | None
    fee_yuan: YuanOut
    replies_already_public: bool
    applicant_name: str
    reply_note: str
    fee_basis: str
    fee_pages: int
    created_at: dt.datetime
    updated_at: dt.datetime


class ResponseIn(_In):
    kind: ResponseKind
    title: Title
    channel: str = Field(default="", max_length=32)
    occurred_on: Day


class ResponseOut(_Out):
    id: int
    kind: str
    title: str
    channel: str
    occurred_on: dt.date


class NormativeDocumentIn(_In):
    kind: DocumentKind
    title: Title
    doc_number: str = Field(default="", max_length=100)
    issued_on: Day
    repealed_on: Day | None = None
    validity: Literal["有效", "失效", "废止"] = "有效"  # 有效性; a dated repeal means 废止

    @field_validator("repealed_on")
    @classmethod
    def _repealed_after_issue(cls, day: dt.date | None, info: ValidationInfo) -> dt.date | None:
        _on_or_after(day, info, "issued_on")
        return day

    @model_validator(mode="after")
    def _repeal_dated(self) -> NormativeDocumentIn:
        if self.validity != "有效" and self.repealed_on is None:
            raise ValueError("repealed_on: required when validity is not 有效")
        if self.validity == "有效" and self.repealed_on is not None:
            self.validity = "废止"
        return self


class NormativeDocumentOut(_Out):
    id: int
    kind: str
    title: str
    doc_number: str
    issued_on: dt.date
    repealed_on: dt.date | None
    validity: str
    item_id: int | None  # the item that published it (linked in the console)


class CaseIn(_In):
    """A 行政复议 or 行政诉讼; closed_on is given exactly when the outcome is not pending."""

    kind: CaseKind
    received_on: Day
    outcome: CaseOutcome = "pending"
    closed_on: Day | None = Field(default=None, validate_default=True)

    @field_validator("closed_on")
    @classmethod
    def _closed_with_outcome(cls, day: dt.date | None, info: ValidationInfo) -> dt.date | None:
        _on_or_after(day, info, "received_on")
        if "outcome" in info.data and (day is None) != (info.data["outcome"] == "pending"):
            raise ValueError("give closed_on exactly when the outcome is not pending")
        return day


class CaseOut(_Out):
    id: int
    kind: str
    received_on: dt.date
    outcome: str
    closed_on: dt.date | None


class ComplaintIn(_In):
    received_on: Day
    summary: Text


class ComplaintOut(_Out):
    id: int
    received_on: dt.date
    summary: str


class DecisionsIn(_In):
    """Table 二's 行政许可, 行政处罚, 行政强制 decisions and 行政事业性收费 in 万元."""

    licensing: Count = 0
    penalty: Count = 0
    enforcement: Count = 0
    admin_fees_wan: Wan = Decimal(0)
    # The 2019 format's table 二 only; null: not entered, printed blank as its template has it.
    other_services: Count | None = None  # 其他对外管理服务事项 处理决定数量
    licensing_prev: Count | None = None  # 上一年项目数量
    licensing_change: Change | None = None  # 本年增/减
    other_services_prev: Count | None = None
    other_services_change: Change | None = None
    penalty_prev: Count | None = None
    penalty_change: Change | None = None
    enforcement_prev: Count | None = None
    enforcement_change: Change | None = None
    fees_prev: Count | None = None
    fees_change: Change | None = None
    procurement_projects: Count | None = None  # 政府集中采购 采购项目数量
    procurement_amount_wan: Wan | None = None  # 采购总金额


class DecisionsOut(_Out):
    year: int
    licensing: int
    penalty: int
    enforcement: int
    admin_fees_wan: WanOut
    other_services: int | None
    licensing_prev: int | None
    licensing_change: int | None
    other_services_prev: int | None
    other_services_change: int | None
    penalty_prev: int | None
    penalty_change: int | None
    enforcement_prev: int | None
    enforcement_change: int | None
    fees_prev: int | None
    fees_change: int | None
    procurement_projects: int | None
    procurement_amount_wan: WanOut | None


class FactsIn(_In):
    """机构建设, 保障经费 (万元), 会议和培训 for one year."""

    dedicated_units: Count = 0
    reading_points: Count = 0
    staff_full_time: Count = 0
    staff_part_time: Count = 0
    funds_wan: Wan = Decimal(0)
    meetings: Count = 0
    trainings: Count = 0
    trainees: Count = 0


class FactsOut(_Out):
    year: int
    dedicated_units: int
    reading_points: int
    staff_full_time: int
    staff_part_time: int
    funds_wan: WanOut
    meetings: int
    trainings: int
    trainees: int


class TextsIn(_In):
    """The narrative sections, preamble facts and the submitted flag of one year."""

    basic_situation: Narrative = ""
    problems: Narrative = ""
    other_matters: Narrative = ""
    publication_url: str = Field(default="", max_length=500)
    contact: str = Field(default="", max_length=1000)
    level: Level = ""
    area_word: str = Field(default="", max_length=16)
    title_org_name: str = Field(default="", max_length=100)
    report_date: dt.date | None = None
    submitted: bool = False


class TextsOut(_Out):
    year: int
    basic_situation: str
    problems: str
    other_matters: str
    publication_url: str
    contact: str
    level: str
    area_word: str
    title_org_name: str
    report_date: dt.date | None
    submitted: bool
    draft: bool = False  # not stored yet: copied from the latest earlier year
