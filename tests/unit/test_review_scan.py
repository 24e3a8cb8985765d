"""The 保密审查 scan: what it flags, what it leaves alone, and how the preview marks it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot.review_scan import (
    FindingKind,
    highlight,
    id_check_char,
    load_words,
    luhn_ok,
    scan,
    scan_fields,
)

TODAY = dt.date(2026, 3, 1)
VALID_X = "11010519491231002X"  # GB 11643's example: check character X
VALID_DIGIT = "220182199003074518"


def kinds(text: str, words: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    return [(f.kind, f.text) for f in scan(text, words=words, today=TODAY)]


class TestResidentIds:
    def test_check_character(self) -> None:
        """ISO 7064 MOD 11-2 gives X and digits as the standard's examples do."""
        assert id_check_char(VALID_X[:17]) == "X"
        assert id_check_char(VALID_DIGIT[:17]) == "8"

    @pytest.mark.parametrize("number", [VALID_X, VALID_X.lower(), VALID_DIGIT])
    def test_valid_ids_are_found(self, number: str) -> None:
        found = scan(f"申请人身份证号：{number}。", today=TODAY)
        assert [(f.kind, f.text) for f in found] == [(FindingKind.ID_NUMBER, number)]
        assert found[0].start == 8
        assert found[0].end == 26
        assert "居民身份证" in found[0].message

    @pytest.mark.parametrize(
        "number",
        [
            "110105194912310021",  # wrong check digit
            "220182199003074519",  # wrong check digit
            "110105194913310021",  # month 13 (check digit computed for it)
            "110105189912310023",  # born before 1900
            "110105202712310022",  # born after today
        ],
    )
    def test_invalid_ids_are_not_ids(self, number: str) -> None:
        assert FindingKind.ID_NUMBER not in [k for k, _ in kinds(number)]

    def test_the_wrong_dates_really_have_right_check_digits(self) -> None:
        """The invalid-date cases above fail on the date alone, not on the checksum."""
        for number in ("110105194913310021", "110105189912310023", "110105202712310022"):
            assert id_check_char(number[:17]) == number[17]

    def test_old_fifteen_digit_ids_need_a_real_date(self) -> None:
        assert kinds("旧证110105491231002") == [(FindingKind.ID_NUMBER, "110105491231002")]
        assert kinds("编号110105491331002") == []  # month 13

    def test_no_id_inside_a_longer_digit_run(self) -> None:
        assert kinds("12" + VALID_DIGIT) == []  # 20 digits: neither an ID nor a card


class TestPhones:
    def test_mobile_numbers(self) -> None:
        assert kinds("联系电话13812345678") == [(FindingKind.MOBILE, "13812345678")]
        assert kinds("电话 138-1234-5678") == [(FindingKind.MOBILE, "138-1234-5678")]
        assert kinds("电话+86 13812345678") == [(FindingKind.MOBILE, "+86 13812345678")]

    def test_not_inside_longer_digit_runs(self) -> None:
        assert kinds("订单号913812345678") == []
        assert kinds("订单号138123456789") == []
        assert kinds("12812345678") == []  # 12x is not a mobile prefix

    def test_landlines(self) -> None:
        assert kinds("办公室0432-68221234") == [(FindingKind.LANDLINE, "0432-68221234")]
        assert kinds("010-87654321") == [(FindingKind.LANDLINE, "010-87654321")]
        assert kinds("（0432）6822123") == [(FindingKind.LANDLINE, "（0432）6822123")]
        assert kinds("文号2023-0001号") == []


class TestCards:
    def test_luhn(self) -> None:
        assert luhn_ok("4111111111111111")
        assert not luhn_ok("4111111111111112")

    def test_cards_passing_luhn(self) -> None:
        assert kinds("卡号6222021234567890128") == [(FindingKind.BANK_CARD, "6222021234567890128")]
        assert kinds("卡号 4111 1111 1111 1111") == [(FindingKind.BANK_CARD, "4111 1111 1111 1111")]

    def test_failing_luhn_or_wrong_length_is_not_a_card(self) -> None:
        assert kinds("流水号6222021234567890127") == []
        assert kinds("4111111111111111111111") == []  # 22 digits

    def test_an_id_is_not_counted_again_as_a_card(self) -> None:
        number = next(
            n
            for n in (f"11010519800101{seq:03d}" for seq in range(1000))
            if id_check_char(n) != "X" and luhn_ok(n + id_check_char(n))
        )
        number += id_check_char(number)
        assert kinds(number) == [(FindingKind.ID_NUMBER, number)]


class TestEmailAndWords:
    def test_email(self) -> None:
        assert kinds("来信请寄 zhang.san+gk@tiande.gov.cn 。") == [
            (FindingKind.EMAIL, "zhang.san+gk@tiande.gov.cn")
        ]
        assert kinds("微信号 @天德乡") == []

    def test_word_list_every_occurrence_case_insensitive(self) -> None:
        found = kinds("内部资料，INTERNAL use；内部资料", words=("内部资料", "internal", " "))
        assert found == [
            (FindingKind.WORD, "内部资料"),
            (FindingKind.WORD, "INTERNAL"),
            (FindingKind.WORD, "内部资料"),
        ]

    def test_words_file(self, tmp_path: Path) -> None:
        path = tmp_path / "words.txt"
        path.write_text("# 审查词表\n机密\n内部资料  # 注释\n\n机密\n", encoding="utf-8")
        assert load_words(["绝密", " "], path) == ["绝密", "机密", "内部资料"]
        assert load_words(["绝密"], None) == ["绝密"]


class TestItemsAndHighlight:
    def test_fields_are_named(self) -> None:
        found = scan_fields({"title": "通知", "body": "电话13812345678"}, today=TODAY)
        assert [(f.field, f.kind) for f in found] == [("body", FindingKind.MOBILE)]
        assert found[0].as_dict()["field"] == "body"

    def test_highlight_escapes_everything(self) -> None:
        text = '<script>alert("x")</script> 13812345678 & <b>'
        out = highlight(text, scan(text, today=TODAY))
        assert "<script>" not in out
        assert "<b>" not in out
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in out
        assert '<mark title="手机号码">13812345678</mark> &amp; &lt;b&gt;' in out

    def test_overlapping_findings_share_one_mark(self) -> None:
        text = "13812345678@163.com"
        found = scan(text, today=TODAY)
        assert {f.kind for f in found} == {FindingKind.MOBILE, FindingKind.EMAIL}
        out = highlight(text, found)
        assert out.count("<mark") == 1
        assert out == '<mark title="电子邮箱地址；手机号码">13812345678@163.com</mark>'

    def test_no_findings_is_just_escaped_text(self) -> None:
        assert highlight("a<b", []) == "a&lt;b"
