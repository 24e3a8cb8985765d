"""Every number an annual report can carry, for one organization and one year.

``bot.annual.collect`` fills this from the ledger and the registers; the formats only
read it. Money is ``Decimal``: 元 in the narrative (seed) sections, 万元 in table 二.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

OrgLevel = Literal["township", "county", "city", "province", "department"]

# Table 三 (2021 format): value columns, in order.
APPLICANT_COLUMNS = ("自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他")
TOTAL_COLUMN = "总计"

# Table 三 rows by key, in the order of report.md §2.4 (25 rows; 2019 has one 六 row).
TABLE3_ROWS: tuple[tuple[str, str], ...] = (
    ("new", "一、本年新收政府信息公开申请数量"),
    ("carried_in", "二、上年结转政府信息公开申请数量"),
    ("open", "（一）予以公开"),
    ("partly_open", "（二）部分公开（区分处理的，只计这一情形，不计其他情形）"),
    ("withheld_state_secret", "1.属于国家秘密"),
    ("withheld_law", "2.其他法律行政法规禁止公开"),
    ("withheld_three_safety", "3.危及“三安全一稳定”"),
    ("withheld_third_party", "4.保护第三方合法权益"),
    ("withheld_internal", "5.属于三类内部事务信息"),
    ("withheld_process", "6.属于四类过程性信息"),
    ("withheld_case_file", "7.属于行政执法案卷"),
    ("withheld_query", "8.属于行政查询事项"),
    ("unable_not_held", "1.本机关不掌握相关政府信息"),
    ("unable_needs_making", "2.没有现成信息需要另行制作"),
    ("unable_unclear", "3.补正后申请内容仍不明确"),
    ("ignored_petition", "1.信访举报投诉类申请"),
    ("ignored_repeat", "2.重复申请"),
    ("ignored_publication", "3.要求提供公开出版物"),
    ("ignored_excessive", "4.无正当理由大量反复申请"),
    ("ignored_confirm", "5.要求行政机关确认或重新出具已获取信息"),
    ("other_no_correction", "1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请"),
    ("other_unpaid", "2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请"),
    ("other_other", "3.其他"),
    ("total", "（七）总计"),
    ("carried_out", "四、结转下年度继续办理"),
)
RESULT_ROWS = tuple(key for key, _ in TABLE3_ROWS[2:23])  # summed into "total"

# Table 四: 行政复议 then 行政诉讼 (未经复议直接起诉, 复议后起诉), each 维持/纠正/其他/尚未审结.
CASE_OUTCOMES = ("维持", "纠正", "其他", "尚未审结")


@dataclass
class CaseCounts:
    """One block of table 四; its 总计 is computed, never stored."""

    upheld: int = 0  # 结果维持
    corrected: int = 0  # 结果纠正
    other: int = 0  # 其他结果
    pending: int = 0  # 尚未审结

    @property
    def total(self) -> int:
        return self.upheld + self.corrected + self.other + self.pending


@dataclass
class DocumentCounts:
    """规章 / 行政规范性文件 in table 二: issued, repealed, in force."""

    issued: int = 0
    repealed: int = 0
    in_force: int = 0


@dataclass
class AnnualFigures:
    org_code: str
    org_name: str
    year: int
    level: OrgLevel = "township"
    area_word: str = "全乡"  # how the narrative names its area: 全乡, 全镇, 本机关…
    title_org_name: str = ""  # the seed's title names 舒兰市人民政府; empty: org_name

    # 二、主动公开 (ledger)
    active_total: int = 0
    normative_published: int = 0
    normative_issued: int = 0
    ch_website: int = 0
    ch_wechat: int = 0
    ch_other: int = 0
    wechat_followers_reached: int = 0

    # Table 二 (2021 format; registers)
    rules: DocumentCounts = field(default_factory=DocumentCounts)  # 规章
    normative_docs: DocumentCounts = field(default_factory=DocumentCounts)
    licensing_decisions: int = 0  # 行政许可
    penalty_decisions: int = 0  # 行政处罚
    enforcement_decisions: int = 0  # 行政强制
    admin_fees_wan: Decimal = Decimal(0)  # 行政事业性收费, 万元
    # Table 二 of the 2019 trial format only: None = not entered, printed blank as its
    # template leaves the cell, never as a 0 nobody counted.
    other_services_decisions: int | None = None  # 其他对外管理服务事项 处理决定数量
    licensing_prev: int | None = None  # 上一年项目数量
    licensing_change: int | None = None  # 本年增/减
    other_services_prev: int | None = None
    other_services_change: int | None = None
    penalty_prev: int | None = None
    penalty_change: int | None = None
    enforcement_prev: int | None = None
    enforcement_change: int | None = None
    fees_prev: int | None = None
    fees_change: int | None = None
    procurement_projects: int | None = None  # 政府集中采购 采购项目数量
    procurement_amount_wan: Decimal | None = None  # 采购总金额, 万元

    # 三、回应解读 (seed format)
    hotspot_responses: int = 0
    responses_total: int = 0
    interpretation_articles: int = 0
    other_responses: int = 0

    # 四、依申请公开
    apps_by_channel: dict[str, int] = field(default_factory=dict)  # 当面/网络/信函/传真/其他
    table3: dict[str, dict[str, int]] = field(default_factory=dict)  # row key → column → n
    apps_on_time: int = 0  # 按时办结
    apps_extended: int = 0  # 延期办结
    apps_late: int = 0  # 逾期办结: replied after every due date
    table3_as_totals: bool = False  # table 三 entered as totals, not counted from the register
    replies_already_public: int = 0  # 属于已主动公开范围数 (seed format)
    fees_collected_yuan: Decimal = Decimal(0)  # 信息处理费

    # 五、复议诉讼 (table 四) and 举报投诉
    reviews: CaseCounts = field(default_factory=CaseCounts)  # 行政复议
    suits_direct: CaseCounts = field(default_factory=CaseCounts)  # 未经复议直接起诉
    suits_after_review: CaseCounts = field(default_factory=CaseCounts)  # 复议后起诉
    complaints: int = 0  # 举报投诉

    # 机构建设、保障经费、会议和培训
    dedicated_units: int = 0
    reading_points: int = 0
    staff_full_time: int = 0
    staff_part_time: int = 0
    funds_wan: Decimal = Decimal(0)
    meetings: int = 0
    trainings: int = 0
    trainees: int = 0

    # Narrative (editable text; the draft starts from last year's)
    basic_situation: str = ""
    problems: str = ""
    other_matters: str = ""

    # A county's rollup: the organizations under it that have not submitted the year's data
    rollup_missing: list[str] = field(default_factory=list)  # by their Chinese names
    rollup_counts_missing: bool = False  # their figures are summed anyway: the county chose so

    # Preamble facts
    publication_url: str = ""
    contact: str = ""
    report_date: dt.date | None = None
    generated_on: dt.date | None = None  # the sign-off's date when no report date is set

    def apps_received(self) -> int:
        """Applications received this year (table 三 一, 总计 column)."""
        return self.table3.get("new", {}).get(TOTAL_COLUMN, 0)

    def cell(self, row: str, column: str) -> int:
        return self.table3.get(row, {}).get(column, 0)
