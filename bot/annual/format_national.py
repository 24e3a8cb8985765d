"""The national formats: 2021 (国办公开办函〔2021〕30号) and the 2019 trial (〔2019〕60号)."""

from __future__ import annotations

import re

from bot.annual.document import Block, Document, Paragraph
from bot.annual.figures import AnnualFigures
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
    sign_off,
    title_lines,
)
from bot.annual.format_tables import NationalFormat, table2, table3, table4

_BASIS = {
    "2021": "《中华人民共和国政府信息公开工作年度报告格式》（国办公开办函〔2021〕30号）",
    "2019": "《政府信息公开工作年度报告格式（试行）》（国办公开办函〔2019〕60号）",
}


def render_national(figures: AnnualFigures, fmt: NationalFormat) -> Document:
    """Figures → the six sections of the national format, with tables 二, 三 and 四."""
    sections: list[tuple[str, list[Block]]] = [
        ("总体情况", _overview(figures)),
        ("主动公开政府信息情况", [table2(figures, fmt)]),
        ("收到和处理政府信息公开申请情况", [table3(figures, fmt), *_table3_note(figures)]),
        ("政府信息公开行政复议、行政诉讼情况", [table4(figures)]),
        ("存在的主要问题及改进情况", narrative(figures.problems)),
        ("其他需要报告的事项", _other_matters(figures)),
    ]
    blocks: list[Block] = [Paragraph(_preamble(figures, fmt)), *rollup_note(figures)]
    for number, (title, section) in enumerate(sections, start=1):
        blocks.append(heading(number, title))
        blocks.extend(section)
    return Document(title_lines(figures), blocks, date_line(figures), fmt, sign_off(figures))


def _table3_note(figures: AnnualFigures) -> list[Block]:
    """Table 三 typed in as totals (applications kept on paper) says so under the table."""
    if not figures.table3_as_totals:
        return []
    return [Paragraph("注：本表数据按汇总数填报（申请未逐件在系统中登记）。")]


def _preamble(figures: AnnualFigures, fmt: NationalFormat) -> str:
    """Legal basis, statistics period, publication and contact (customary, not in the format)."""
    return (
        f"本报告根据{LAW}（以下简称《条例》）第五十条和{_BASIS[fmt]}的要求编制。"
        f"{period_sentence(figures.year)}{publication_sentences(figures, '本报告')}"
    )


def _overview(figures: AnnualFigures) -> list[Block]:
    """一、总体情况, numbered as the format's customary subsections: （一）主动公开 carries the
    counts (the channel sentence only when something was published), then the clerk's
    narrative, its own numbering moved on so that no second （一） appears. A narrative that
    opens with its own （一）主动公开 gets the counts at the head of that subsection."""
    active, channels = [b.text for b in active_paragraphs(figures) if isinstance(b, Paragraph)]
    counts = active + (channels if figures.active_total else "")
    lines = [line.strip() for line in figures.basic_situation.splitlines() if line.strip()]
    if lines and _SUBSECTION.match(lines[0]) and lines[0][3:].startswith(_ACTIVE_HEAD):
        head, _, rest = lines[0].partition("。")
        return [Paragraph(counts + rest, lead=head + "。"), *_renumbered(lines[1:], 0)]
    return [Paragraph(counts, lead=f"（一）{_ACTIVE_HEAD}。"), *_renumbered(lines, 1)]


_ACTIVE_HEAD = "主动公开"
_SUBSECTION = re.compile(r"^（([一二三四五六七八九十])）")


def _renumbered(lines: list[str], shift: int) -> list[Block]:
    """Narrative paragraphs, each leading （n） moved on by ``shift``."""

    def move(match: re.Match[str]) -> str:
        return f"（{numeral(_NUMBERS.index(match.group(1)) + 1 + shift)}）"

    blocks: list[Block] = []
    for line in lines:
        if _SUBSECTION.match(line):
            head, dot, rest = _SUBSECTION.sub(move, line, count=1).partition("。")
            blocks.append(Paragraph(rest, lead=head + dot) if dot else Paragraph(head))
        else:
            blocks.append(Paragraph(line))
    return blocks


_NUMBERS = "一二三四五六七八九十"


def _other_matters(figures: AnnualFigures) -> list[Block]:
    """六: the 信息处理费 sentence, which the format requires even when nothing was charged."""
    fee = figures.fees_collected_yuan
    sentence = f"本年度共收取信息处理费{money(fee)}元。" if fee else "本年度未收取信息处理费。"
    return [Paragraph(sentence), *narrative(figures.other_matters)]
