"""The automatic part of the 保密审查: find personal data and listed words in an item's text.

Resident ID numbers count only with a valid birth date (and, for 18 digits, a valid
ISO 7064 MOD 11-2 check character), bank card numbers only when they pass Luhn, and no
number is taken from inside a longer run of digits. The scan flags, a person decides.
"""

from __future__ import annotations

import datetime as dt
import enum
import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path


class FindingKind(enum.StrEnum):
    """What kind of sensitive content a finding is."""

    ID_NUMBER = "id_number"
    MOBILE = "mobile"
    LANDLINE = "landline"
    BANK_CARD = "bank_card"
    EMAIL = "email"
    WORD = "word"


@dataclass(frozen=True, slots=True)
class ScanFinding:
    """One match: its kind, the matched text, its span in the scanned text, a message."""

    kind: FindingKind
    text: str
    start: int
    end: int
    message: str
    field: str = ""  # which item field, when a whole item is scanned

    def as_dict(self) -> dict[str, object]:
        """The finding as JSON, for the review record and the API."""
        return {
            "field": self.field,
            "kind": str(self.kind),
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "message": self.message,
        }


_ID18 = re.compile(r"(?<!\d)\d{17}[\dXx](?![\dA-Za-z])")
_ID15 = re.compile(r"(?<!\d)\d{15}(?!\d)")
_MOBILE = re.compile(r"(?<![\d+])(?:\+86[- ]?)?1[3-9]\d(?:\d{8}|[- ]\d{4}[- ]\d{4})(?![\d-])")
_LANDLINE = re.compile(r"(?<![\d-])(?:\(0\d{2,3}\)|（0\d{2,3}）|0\d{2,3}-?)[2-9]\d{6,7}(?![\d-])")
_CARD = re.compile(r"(?<![\d-])(?:\d{13,19}|\d{4}(?:[ -]\d{4}){2,3}(?:[ -]\d{1,3})?)(?![\d-])")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_check_char(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character of an 18-digit resident ID number."""
    total = sum(int(digit) * weight for digit, weight in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def _birth_date(digits: str, *, today: dt.date) -> dt.date | None:
    try:
        born = dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None
    return born if dt.date(1900, 1, 1) <= born <= today else None


def luhn_ok(digits: str) -> bool:
    """Whether a run of digits passes the Luhn check used by bank card numbers."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _ids(text: str, today: dt.date) -> Iterable[ScanFinding]:
    for match in _ID18.finditer(text):
        number = match.group().upper()
        born = _birth_date(number[6:14], today=today)
        if born and id_check_char(number[:17]) == number[17]:
            message = f"居民身份证号码（出生日期 {born}，校验位正确）"
            yield _found(FindingKind.ID_NUMBER, match, message)
    for match in _ID15.finditer(text):
        born = _birth_date("19" + match.group()[6:12], today=today)
        if born:
            yield _found(FindingKind.ID_NUMBER, match, f"15 位旧居民身份证号码（出生日期 {born}）")


def _found(kind: FindingKind, match: re.Match[str], message: str) -> ScanFinding:
    return ScanFinding(kind, match.group(), match.start(), match.end(), message)


def _overlaps(finding: ScanFinding, others: Sequence[ScanFinding]) -> bool:
    return any(finding.start < o.end and o.start < finding.end for o in others)


def scan(
    text: str, *, words: Sequence[str] = (), today: dt.date | None = None
) -> list[ScanFinding]:
    """Every finding in ``text``, in order of position."""
    today = today or dt.date.today()
    ids = list(_ids(text, today))
    found = list(ids)
    for match in _MOBILE.finditer(text):
        found.append(_found(FindingKind.MOBILE, match, "手机号码"))
    for match in _LANDLINE.finditer(text):
        found.append(_found(FindingKind.LANDLINE, match, "固定电话号码"))
    for match in _CARD.finditer(text):
        card = _found(FindingKind.BANK_CARD, match, "银行卡号（通过 Luhn 校验）")
        digits = re.sub(r"\D", "", match.group())
        if 13 <= len(digits) <= 19 and luhn_ok(digits) and not _overlaps(card, ids):
            found.append(card)
    for match in _EMAIL.finditer(text):
        found.append(_found(FindingKind.EMAIL, match, "电子邮箱地址"))
    found.extend(_words(text, words))
    return sorted(found, key=lambda f: (f.start, -f.end, f.kind))


def _words(text: str, words: Sequence[str]) -> Iterable[ScanFinding]:
    folded = text.casefold()
    for word in dict.fromkeys(w.strip() for w in words):
        if not word:
            continue
        needle, start = word.casefold(), 0
        while (at := folded.find(needle, start)) >= 0:
            end = at + len(needle)
            yield ScanFinding(FindingKind.WORD, text[at:end], at, end, f"审查词表中的词：{word}")
            start = end


def scan_fields(
    fields: Mapping[str, str], *, words: Sequence[str] = (), today: dt.date | None = None
) -> list[ScanFinding]:
    """Scan several named texts (an item's title, summary, body, 文号) and tag each finding."""
    return [
        replace(finding, field=name)
        for name, text in fields.items()
        for finding in scan(text, words=words, today=today)
    ]


def highlight(text: str, findings: Sequence[ScanFinding]) -> str:
    """``text`` as escaped HTML with each finding (overlaps merged) inside a <mark>."""
    spans: list[list[int]] = []
    for finding in sorted(findings, key=lambda f: f.start):
        if spans and finding.start <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], finding.end)
        else:
            spans.append([finding.start, finding.end])
    parts, cursor = [], 0
    for start, end in spans:
        notes = "；".join(
            dict.fromkeys(f.message for f in findings if f.start < end and start < f.end)
        )
        parts.append(html.escape(text[cursor:start]))
        parts.append(f'<mark title="{html.escape(notes)}">{html.escape(text[start:end])}</mark>')
        cursor = end
    parts.append(html.escape(text[cursor:]))
    return "".join(parts)


def load_words(words: Sequence[str], path: Path | None) -> list[str]:
    """The configured word list plus the words file (one per line, # starts a comment)."""
    found = [w.strip() for w in words if w.strip()]
    if path is not None:
        for line in path.read_text(encoding="utf-8").splitlines():
            word = line.split("#", 1)[0].strip()
            if word:
                found.append(word)
    return list(dict.fromkeys(found))
