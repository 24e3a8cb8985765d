"""The seed's narrative format (family B, 2016–2018): every number from figures, its wording."""

from __future__ import annotations

from typing import NamedTuple

from bot.annual.document import Block, Document, Paragraph
from bot.annual.figures import AnnualFigures, CaseCounts
from bot.annual.format_common import (
    LAW,
    active_paragraphs,
    date_line,
    heading,
    money,
    narrative,
    numeral,
    period_sentence,
    publication_sentences,
    rollup_note,
    run_in,
    sign_off,
    title_lines,
    we,
)

# The seed always prints these three channels; 传真 and 其他 only when non-zero.
_ALWAYS_CHANNELS = (("当面", "当面申请"), ("网络", "网络申请"), ("信函", "信函申请"))
_OPTIONAL_CHANNELS = (("传真", "传真申请"), ("其他", "其他方式申请"))
# Reply kinds beyond the seed's one, printed when non-zero: label, table 三 row-key prefix.
_REPLY_KINDS = (
    ("同意公开", "open"),
    ("同意部分公开", "partly_open"),
    ("不同意公开", "withheld_"),
    ("无法提供", "unable_"),
    ("不予处理", "ignored_"),
    ("其他处理", "other_"),
)


class Section(NamedTuple):
    part: str  # how the preamble lists it
    title: str  # its heading, without the number
    blocks: list[Block]


def render_seed(figures: AnnualFigures) -> Document:
    """Figures → the seed's document: title, preamble and the numbered narrative sections."""
    sections = _sections(figures)
    blocks: list[Block] = [
        Paragraph(_preamble(figures, [s.part for s in sections])),
        *rollup_note(figures),
    ]
    for number, section in enumerate(sections, start=1):
        blocks.append(heading(number, section.title))
        blocks.extend(section.blocks)
    return Document(title_lines(figures), blocks, date_line(figures), "seed", sign_off(figures))


def _sections(figures: AnnualFigures) -> list[Section]:
    """The sections present, in the seed's order."""
    sections = [
        # The seed's first heading has an ASCII space after 一、; kept.
        Section("基本工作情况", " 基本工作情况", narrative(figures.basic_situation)),
        Section("主动公开政府信息情况", "主动公开政府信息情况", _active(figures)),
        Section("回应解读情况", "回应解读情况", _responses(figures)),
        Section("依申请公开政府信息情况", "依申请公开政府信息情况", _applications(figures)),
        Section("行政复议诉讼和举报投诉情况", "行政复议、诉讼和举报投诉情况", _cases(figures)),
    ]
    if _has_institution(figures):
        name = "机构建设、保障经费和培训会议情况"
        sections.append(Section(name, name, _institution(figures)))
    problems = narrative(figures.problems)
    sections.append(
        Section("存在问题及工作打算", "工作存在的主要问题、改进情况及工作打算", problems)
    )
    if figures.other_matters.strip():
        other = "其他需要报告的事项"
        sections.append(Section(other, other, narrative(figures.other_matters)))
    return sections


def _active(figures: AnnualFigures) -> list[Block]:
    """Section 二; the channel sentence would be all zeros when nothing was published."""
    paragraphs = active_paragraphs(figures)
    return paragraphs if figures.active_total else paragraphs[:1]


def _preamble(figures: AnnualFigures, parts: list[str]) -> str:
    """Legal basis, the parts, the statistics period, publication and contact."""
    return (
        f"根据{LAW}（以下简称《条例》）的规定，{we(figures)}编制了{figures.org_name}"
        f"{figures.year}年政府信息公开工作年度报告（以下简称年报）。"
        f"本年报由{'，'.join(parts)}等{numeral(len(parts))}部分组成。"
        f"{period_sentence(figures.year)}{publication_sentences(figures)}"
    )


def _responses(figures: AnnualFigures) -> list[Block]:
    """Section 三, 回应解读."""
    return [
        Paragraph(f"（一）回应公众关注热点或重大舆情数{figures.hotspot_responses}次。"),
        run_in(
            "（二）通过不同渠道和方式回应解读情况。"
            f"各级政府共回应解读共{figures.responses_total}件，"
            f"其中，政策解读稿件发布{figures.interpretation_articles}篇，"
            f"其他方式回应事件数{figures.other_responses}件。"
        ),
    ]


def _applications(figures: AnnualFigures) -> list[Block]:
    """Section 四, 依申请公开: received, completed, replies, fees."""
    received = figures.apps_received()
    return [
        run_in(f"（一）收到申请情况。共收到政府信息公开申请{received}件，{_channels(figures)}。"),
        run_in(
            f"（二）申请办结情况。在{received}件政府信息公开申请中，"
            f"按时办结{figures.apps_on_time}件，延期办结{figures.apps_extended}件"
            + (f"，逾期办结{figures.apps_late}件。" if figures.apps_late else "。")
        ),
        run_in(
            f"（三）申请答复情况。在{received}件政府信息公开申请中，"
            f"已主动公开范围数{figures.replies_already_public}件{_other_replies(figures)}。"
        ),
        Paragraph(f"（四）依申请公开信息收取费用{money(figures.fees_collected_yuan)}元。"),
    ]


def _channels(figures: AnnualFigures) -> str:
    """其中，当面申请…件，… : the seed's three channels, then 传真/其他 when non-zero."""
    counts = figures.apps_by_channel
    parts = [f"{label}{counts.get(key, 0)}件" for key, label in _ALWAYS_CHANNELS]
    parts += [f"{label}{counts[key]}件" for key, label in _OPTIONAL_CHANNELS if counts.get(key)]
    return "其中，" + "，".join(parts)


def _other_replies(figures: AnnualFigures) -> str:
    """Further reply kinds from table 三's 总计 column, only those that are non-zero."""
    totals = {key: row.get("总计", 0) for key, row in figures.table3.items()}
    parts = []
    for label, prefix in _REPLY_KINDS:
        count = sum(n for key, n in totals.items() if key.startswith(prefix))
        if count:
            parts.append(f"，{label}{count}件")
    return "".join(parts)


def _cases(figures: AnnualFigures) -> list[Block]:
    """Section 五: "未收到…" sentences when zero, as the seed; the numbers otherwise."""
    reviews = figures.reviews
    review = (
        f"收到政府信息公开行政复议案件{reviews.total}件，其中，{_outcomes(reviews)}"
        if reviews.total
        else "未收到政府信息公开行政复议案件"
    )
    return [Paragraph(f"（一）{review}。"), Paragraph(f"（二）{_suits_and_complaints(figures)}。")]


def _suits_and_complaints(figures: AnnualFigures) -> str:
    """行政诉讼 and 举报投诉 in one sentence, as the seed words it when both are zero."""
    direct, after = figures.suits_direct, figures.suits_after_review
    suits = direct.total + after.total
    if not suits and not figures.complaints:
        return "未收到行政诉讼案件和举报投诉案件"
    suit_text = "未收到行政诉讼案件"
    if suits:
        suit_text = (
            f"收到政府信息公开行政诉讼案件{suits}件，其中，未经复议直接起诉{direct.total}件"
            f"（{_outcomes(direct)}），复议后起诉{after.total}件（{_outcomes(after)}）"
        )
    complaint_text = (
        f"收到举报投诉案件{figures.complaints}件" if figures.complaints else "未收到举报投诉案件"
    )
    return f"{suit_text}；{complaint_text}"


def _outcomes(cases: CaseCounts) -> str:
    """结果维持…件，结果纠正…件，其他结果…件，尚未审结…件."""
    return (
        f"结果维持{cases.upheld}件，结果纠正{cases.corrected}件，"
        f"其他结果{cases.other}件，尚未审结{cases.pending}件"
    )


def _has_institution(figures: AnnualFigures) -> bool:
    """Whether any 机构建设、保障经费、培训会议 figure is non-zero (else the seed omits it)."""
    values = (
        figures.dedicated_units,
        figures.reading_points,
        figures.staff_full_time,
        figures.staff_part_time,
        figures.funds_wan,
        figures.meetings,
        figures.trainings,
        figures.trainees,
    )
    return any(values)


def _institution(figures: AnnualFigures) -> list[Block]:
    """机构建设、保障经费和培训会议: three run-in paragraphs."""
    staff = figures.staff_full_time + figures.staff_part_time
    return [
        run_in(
            f"（一）机构建设情况。设立政府信息公开工作专门机构{figures.dedicated_units}个，"
            f"设置政府信息公开查阅点{figures.reading_points}个，"
            f"从事政府信息公开工作人员{staff}人，其中，专职{figures.staff_full_time}人，"
            f"兼职{figures.staff_part_time}人。"
        ),
        run_in(f"（二）保障经费情况。政府信息公开专项经费{money(figures.funds_wan)}万元。"),
        run_in(
            f"（三）培训会议情况。召开政府信息公开工作会议或专题会议{figures.meetings}次，"
            f"举办各类培训班{figures.trainings}次，接受培训人员{figures.trainees}人次。"
        ),
    ]
