"""Section 二 of the annual report, in the seed's exact wording, from the ledger."""

from __future__ import annotations

from dataclasses import dataclass

from storage.ledger import ChannelTally, channel_tally
from storage.models import Organization
from storage.registers import normative_issued_in

_AREA_SUFFIXES = (
    ("街道办事处", "全街道"),
    ("乡人民政府", "全乡"),
    ("镇人民政府", "全镇"),
    ("县人民政府", "全县"),
    ("区人民政府", "全区"),
    ("市人民政府", "全市"),
    ("乡", "全乡"),
    ("镇", "全镇"),
    ("县", "全县"),
)

ACTIVE_TEMPLATE = (
    "（一）主动公开政府信息情况。{year}年{area}主动公开信息{total}条。"
    "其中，主动公开规范性文件信息{normative}条，制发规范性文件{issued}件。"
)
# The seed's wording is irregular ("数为" twice, then "数" without 为): kept byte for byte.
CHANNEL_TEMPLATE = (
    "（二）通过不同渠道和方式公开政府信息的情况。在公开的{total}条信息中，"
    "政府网站公开政府信息数为{website}条，通过政务微信公开政府信息数为{wechat}条，"
    "通过其他方式公开政府信息数{other}条。"
)


def area_word(org: Organization) -> str:
    """How the report names the organization's own area (全乡, 全镇…), or 本机关."""
    if org.area_word:
        return org.area_word
    for suffix, word in _AREA_SUFFIXES:
        if org.name.endswith(suffix):
            return word
    return "本机关"


@dataclass(frozen=True, slots=True)
class ChannelSection:
    """The figures behind section 二 and its two rendered paragraphs."""

    year: int
    tally: ChannelTally
    normative_issued: int
    active_paragraph: str
    channel_paragraph: str


async def channel_section(org: Organization, year: int) -> ChannelSection:
    """Count the year from the ledger and word it as the seed does."""
    tally = await channel_tally(org.id, year)
    issued = await normative_issued_in(org.id, year)  # the register, as table 二 counts
    return ChannelSection(
        year=year,
        tally=tally,
        normative_issued=issued,
        active_paragraph=ACTIVE_TEMPLATE.format(
            year=year,
            area=area_word(org),
            total=tally.total,
            normative=tally.normative,
            issued=issued,
        ),
        channel_paragraph=CHANNEL_TEMPLATE.format(**tally.as_dict()),
    )
