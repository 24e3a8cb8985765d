"""Pieces shared by the report formats: numbers, money, title, preamble and narrative text."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from bot.annual.document import Block, Heading, Paragraph
from bot.annual.figures import AnnualFigures
from bot.report import ACTIVE_TEMPLATE, CHANNEL_TEMPLATE

LAW = "《中华人民共和国政府信息公开条例》"
_FOUR_PLACES = Decimal("0.0001")
_NUMERALS = "零一二三四五六七八九十"


def numeral(n: int) -> str:
    """Chinese numeral for 1–19, as section numbers and part counts use it."""
    if n <= 10:
        return _NUMERALS[n]
    return "十" + _NUMERALS[n - 10]


def money(amount: Decimal) -> str:
    """A money amount with at most four decimals, trailing zeros dropped: 0, 12.5, 3.1416."""
    text = format(amount.quantize(_FOUR_PLACES, rounding=ROUND_HALF_UP), "f")
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return "0" if text in ("", "-0") else text


def org_title(figures: AnnualFigures) -> str:
    """The organization named in the title (the seed names its superior there)."""
    return figures.title_org_name or figures.org_name


def title_lines(figures: AnnualFigures) -> list[str]:
    """The two title lines, as the seed breaks them."""
    return [f"{org_title(figures)}{figures.year}年", "政府信息公开工作年度报告"]


def sign_off(figures: AnnualFigures) -> tuple[str, str]:
    """The organization and the date that close the report: the report date, else the day it
    was generated, else a date line left to be filled in by hand."""
    day = figures.report_date or figures.generated_on
    date = (
        f"{day.year}年{day.month}月{day.day}日"
        if day
        else "\u3000\u3000年\u3000\u3000月\u3000\u3000日"
    )
    return figures.org_name, date


def date_line(figures: AnnualFigures) -> str:
    """The optional dated line under the title, e.g. （2017年2月23日）."""
    day = figures.report_date
    return f"（{day.year}年{day.month}月{day.day}日）" if day else ""


def we(figures: AnnualFigures) -> str:
    """How the narrative says "we": 全乡 → 我乡, 全镇 → 我镇, anything else unchanged."""
    area = figures.area_word
    return "我" + area[1:] if area.startswith("全") and len(area) > 1 else area


def period_sentence(year: int) -> str:
    """The statistics period, 1 January to 31 December of the report year."""
    return f"本报告中所列数据的统计期限自{year}年1月1日起至{year}年12月31日止。"


def publication_sentences(figures: AnnualFigures, report: str = "本年报") -> str:
    """Where the report is published and whom to contact; empty parts are left out."""
    text = ""
    if figures.publication_url:
        text += (
            f"{report}通过（{figures.publication_url}）向社会公开。"
            "欢迎进行监督、提出意见，欢迎人民群众参阅使用。"
        )
    if figures.contact:
        text += f"如对{report}有疑问、意见和建议，请联系{figures.contact.rstrip('。')}。"
    return text


def narrative(text: str) -> list[Block]:
    """Editable narrative text as paragraphs: one per non-blank line, indentation dropped."""
    return [Paragraph(line.strip()) for line in text.splitlines() if line.strip()]


def run_in(sentence: str) -> Paragraph:
    """A paragraph whose first sentence (up to the first 。) is its run-in heading."""
    head, _, rest = sentence.partition("。")
    return Paragraph(rest, lead=head + "。")


def heading(number: int, text: str) -> Heading:
    """A level-1 heading numbered 一、二、…"""
    return Heading(1, f"{numeral(number)}、{text}")


def active_paragraphs(figures: AnnualFigures) -> list[Block]:
    """Section 二's two paragraphs, from the core issue's templates unchanged."""
    active = ACTIVE_TEMPLATE.format(
        year=figures.year,
        area=figures.area_word,
        total=figures.active_total,
        normative=figures.normative_published,
        issued=figures.normative_issued,
    )
    channels = CHANNEL_TEMPLATE.format(
        total=figures.active_total,
        website=figures.ch_website,
        wechat=figures.ch_wechat,
        other=figures.ch_other,
    )
    return [run_in(active), run_in(channels)]


def rollup_note(figures: AnnualFigures) -> list[Block]:
    """A county's rollup names, under the preamble, the organizations that have not submitted
    the year's data and says whether their figures are in the sums."""
    if not figures.rollup_missing:
        return []
    names = "、".join(figures.rollup_missing)
    counted = (
        "本报告已按其现有数据计入汇总"
        if figures.rollup_counts_missing
        else "其数据未计入本报告汇总"
    )
    year = figures.year
    return [Paragraph(f"说明：截至本报告生成时，{names}尚未提交{year}年度数据，{counted}。")]
