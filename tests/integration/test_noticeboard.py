"""The notice board channel: A4 notice PDFs, the print queue, printing and withdrawal."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from channels.base import (
    ConfigurationError,
    PermanentError,
    Publishable,
    TemporaryError,
)
from channels.noticeboard import NoticeBoard
from channels.printpdf import render_notice, render_notice_pdf

FONT = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
TITLE = "关于<script>alert(1)</script>&公开《2024年度财政预算》的公告"
LONG = "为进一步推进基层政务公开标准化规范化建设，切实保障人民群众的知情权、参与权和监督权，" * 8
BODY_HTML = f"""<h2>一、公开内容</h2>
<p>根据《中华人民共和国政府信息公开条例》的规定，现将“财政预算”有关事项公告如下——请周知。</p>
<ol>
<li>财政预决算信息 &amp; 三公经费；</li>
<li><strong>重大建设项目</strong>批准和实施情况&lt;i&gt;；</li>
</ol>
<p>{LONG}</p>
<script>alert("不应出现")</script>
"""


def _pub(**changes: object) -> Publishable:
    pub = Publishable(
        delivery_id=7,
        idempotency_key="d7-r1-noticeboard",
        org_code="xz01",
        org_name="某某县某某镇人民政府",
        item_id=3,
        lineage_id=3,
        revision=1,
        index_no="11330100-2024-000123",
        title=TITLE,
        body_md="(unused)",
        body_html=BODY_HTML,
        summary="",
        category="财政",
        doc_number="某政发〔2024〕12号",
        normative=False,
        formed_on=dt.date(2024, 5, 1),
        publish_date=dt.date(2024, 5, 6),
    )
    return replace(pub, **changes)  # type: ignore[arg-type]


def _long_pub() -> Publishable:
    return _pub(body_html="".join(f"<p>第{i}段。{LONG}</p>" for i in range(12)))


def _tool(*argv: str) -> str:
    if shutil.which(argv[0]) is None:
        pytest.fail(f"{argv[0]} is missing: install the Debian package poppler-utils")
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _text(pdf: Path, page: int | None = None) -> str:
    pages = ["-f", str(page), "-l", str(page)] if page else []
    return _squeeze(_tool("pdftotext", *pages, str(pdf), "-"))


def _write(tmp_path: Path, pub: Publishable) -> Path:
    path = tmp_path / "notice.pdf"
    path.write_bytes(render_notice_pdf(pub, font_path=FONT))
    return path


def _script(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "fake-lp"
    script.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
    script.chmod(0o755)
    return script


@pytest.fixture
def board(tmp_path: Path) -> NoticeBoard:
    return NoticeBoard(tmp_path / "queue", font_path=FONT)


def _org_dir(board: NoticeBoard) -> Path:
    return board.queue_dir / "xz01"


class TestRender:
    def test_page_is_a4(self, tmp_path: Path) -> None:
        """Every page of the notice is A4 portrait."""
        info = _tool("pdfinfo", "-f", "1", "-l", "99", str(_write(tmp_path, _long_pub())))
        sizes = re.findall(r"Page\s+\d+ size:\s+([\d.]+) x ([\d.]+) pts", info)
        assert sizes
        for width, height in sizes:
            assert abs(float(width) - 595.28) < 0.5
            assert abs(float(height) - 841.89) < 0.5

    def test_font_is_embedded(self, tmp_path: Path) -> None:
        """The CJK font is embedded and no font is left for the printer to substitute."""
        rows = _tool("pdffonts", str(_write(tmp_path, _pub()))).splitlines()[2:]
        assert any("WenQuanYi" in row for row in rows)
        assert all(row.split()[-5] == "yes" for row in rows)

    def test_text_has_header_metadata_body_and_signature(self, tmp_path: Path) -> None:
        """The org name, title, 索引号, 文号, dates and the body text are all in the PDF."""
        footer = re.compile(r"索引号：11330100-2024-000123\d+/\d+")
        text = footer.sub("", _text(_write(tmp_path, _pub())))
        for expected in (
            "某某县某某镇人民政府",
            TITLE,
            "索引号",
            "11330100-2024-000123",
            "某政发〔2024〕12号",
            "成文日期2024年5月1日",
            "发布日期2024年5月6日",
            "一、公开内容",
            "《中华人民共和国政府信息公开条例》",
            "“财政预算”有关事项公告如下——请周知。",
            "1.财政预决算信息&三公经费；",
            "2.重大建设项目批准和实施情况<i>；",
            _squeeze(LONG),
        ):
            assert expected in text
        assert text.index("发布日期") < text.index("一、公开内容")
        assert text.rindex("某某县某某镇人民政府2024年5月1日") > text.index(_squeeze(LONG))

    def test_scripts_and_unknown_markup_are_dropped(self, tmp_path: Path) -> None:
        """Script content never reaches the page and user markup is shown as text."""
        pub = _pub(body_html='<p>正文<font size="80">大</font><img src="x.png" alt="图"></p>')
        text = _text(_write(tmp_path, replace(pub, body_html=pub.body_html + BODY_HTML)))
        assert "不应出现" not in text
        assert "正文大［图：图］" in text

    def test_signature_uses_publish_date_without_formed_on(self, tmp_path: Path) -> None:
        """Without 成文日期 the metadata omits it and the 落款 carries the publish date."""
        text = _text(_write(tmp_path, _pub(formed_on=None, doc_number="")))
        assert "成文日期" not in text
        assert "文号" not in text
        assert "某某县某某镇人民政府2024年5月6日" in text

    def test_odd_metadata_field_count_renders(self, tmp_path: Path) -> None:
        """With three metadata fields the table still shows each label and value."""
        text = _text(_write(tmp_path, _pub(doc_number="")))
        for pair in ("索引号11330100-2024-000123", "成文日期2024年5月1日", "发布日期2024年5月6日"):
            assert pair in text
        assert "文号" not in text

    def test_long_body_gets_page_numbers(self, tmp_path: Path) -> None:
        """A multi-page notice shows 索引号 and page x/y in every footer."""
        pdf = _write(tmp_path, _long_pub())
        rendered = render_notice(_long_pub(), font_path=FONT)
        assert rendered.pages > 1
        for page in range(1, rendered.pages + 1):
            footer = _text(pdf, page)
            assert footer.endswith(f"{page}/{rendered.pages}")
            assert "索引号：11330100-2024-000123" in footer

    def test_output_is_deterministic(self) -> None:
        """Rendering the same item twice gives identical bytes, so prepare can hash them."""
        assert render_notice_pdf(_pub(), font_path=FONT) == render_notice_pdf(
            _pub(), font_path=FONT
        )

    def test_missing_font_is_a_configuration_error(self, tmp_path: Path) -> None:
        """A missing font file names the path and the Debian package to install."""
        missing = tmp_path / "none.ttc"
        with pytest.raises(ConfigurationError, match="fonts-wqy-zenhei") as caught:
            render_notice_pdf(_pub(), font_path=missing)
        assert str(missing) in caught.value.message

    def test_unreadable_font_is_a_configuration_error(self, tmp_path: Path) -> None:
        """A file that is not a font is reported as misconfiguration."""
        bogus = tmp_path / "bogus.ttc"
        bogus.write_bytes(b"not a font")
        with pytest.raises(ConfigurationError, match="fonts-wqy-zenhei"):
            render_notice_pdf(_pub(), font_path=bogus)


class TestPrepare:
    async def test_prepare_stages_outside_the_queue(self, board: NoticeBoard) -> None:
        """Prepare writes a staged PDF whose hash it reports and queues nothing."""
        prepared = await board.prepare(_pub())
        staged = board.queue_dir / prepared["pdf"]
        assert prepared["pdf"] == "xz01/.staging/d7-r1-noticeboard.pdf"
        assert prepared["sha256"] == hashlib.sha256(staged.read_bytes()).hexdigest()
        assert prepared["pages"] >= 1
        assert [p.name for p in _org_dir(board).iterdir()] == [".staging"]

    async def test_unsafe_names_are_permanent_errors(self, board: NoticeBoard) -> None:
        """An org code that could escape the queue directory is refused."""
        with pytest.raises(PermanentError):
            await board.prepare(_pub(org_code="../etc"))
        with pytest.raises(ValueError, match="幂等键"):
            board.queued_pdf_path("xz01", "../../x")


class TestCommit:
    async def test_commit_queues_pdf_and_sidecar(self, board: NoticeBoard) -> None:
        """Commit moves the PDF into the queue, writes its sidecar and waits for staff."""
        prepared = await board.prepare(_pub())
        committed = await board.commit(_pub(), prepared)
        queued = board.queued_pdf_path("xz01", "d7-r1-noticeboard")
        assert committed.external_id == "xz01/d7-r1-noticeboard.pdf"
        assert committed.url is None
        assert committed.needs_confirmation
        assert hashlib.sha256(queued.read_bytes()).hexdigest() == prepared["sha256"]
        assert not (board.queue_dir / prepared["pdf"]).exists()
        sidecar = json.loads(queued.with_suffix(".json").read_text(encoding="utf-8"))
        assert sidecar["title"] == TITLE
        assert sidecar["index_no"] == "11330100-2024-000123"
        assert sidecar["org"] == "某某县某某镇人民政府"
        assert sidecar["publish_date"] == "2024-05-06"
        assert sidecar["pages"] == prepared["pages"]
        assert sidecar["posting_period_days"] == 30
        assert sidecar["queued_at"]

    async def test_repeated_commit_is_harmless(self, board: NoticeBoard) -> None:
        """Committing twice returns the same result and leaves one PDF and one sidecar."""
        prepared = await board.prepare(_pub())
        first = await board.commit(_pub(), prepared)
        sidecar = board.queued_pdf_path("xz01", "d7-r1-noticeboard").with_suffix(".json")
        before = sidecar.read_text(encoding="utf-8")
        assert await board.commit(_pub(), prepared) == first
        assert sidecar.read_text(encoding="utf-8") == before
        names = sorted(p.name for p in _org_dir(board).iterdir() if p.is_file())
        assert names == ["d7-r1-noticeboard.json", "d7-r1-noticeboard.pdf"]

    async def test_commit_without_staged_file_renders_again(self, board: NoticeBoard) -> None:
        """When the staged PDF is gone and nothing is queued, commit renders the notice anew."""
        prepared = await board.prepare(_pub())
        (board.queue_dir / prepared["pdf"]).unlink()
        await board.commit(_pub(), prepared)
        queued = board.queued_pdf_path("xz01", "d7-r1-noticeboard")
        assert hashlib.sha256(queued.read_bytes()).hexdigest() == prepared["sha256"]

    async def test_printer_runs_exactly_once(self, tmp_path: Path) -> None:
        """The printer command gets the queued PDF once, even when commit is repeated."""
        log, copy = tmp_path / "printed.log", tmp_path / "printed.pdf"
        script = _script(tmp_path, f'echo "$@" >> "{log}"\ncp "$3" "{copy}"')
        board = NoticeBoard(
            tmp_path / "queue", font_path=FONT, printer_command=f"{script} -d township-hp"
        )
        prepared = await board.prepare(_pub())
        await board.commit(_pub(), prepared)
        await board.commit(_pub(), prepared)
        queued = board.queued_pdf_path("xz01", "d7-r1-noticeboard")
        assert log.read_text(encoding="utf-8").splitlines() == [f"-d township-hp {queued}"]
        assert copy.read_bytes() == queued.read_bytes()
        sidecar = json.loads(queued.with_suffix(".json").read_text(encoding="utf-8"))
        assert sidecar["printed_at"]

    async def test_failing_printer_is_a_temporary_error(self, tmp_path: Path) -> None:
        """A printer command that exits non-zero raises TemporaryError with its stderr."""
        script = _script(tmp_path, 'echo "printer offline" >&2\nexit 3')
        board = NoticeBoard(tmp_path / "queue", font_path=FONT, printer_command=str(script))
        prepared = await board.prepare(_pub())
        with pytest.raises(TemporaryError, match="printer offline"):
            await board.commit(_pub(), prepared)
        queued = board.queued_pdf_path("xz01", "d7-r1-noticeboard")
        assert queued.exists()
        assert json.loads(queued.with_suffix(".json").read_text("utf-8"))["printed_at"] is None

    async def test_missing_printer_is_a_temporary_error(self, tmp_path: Path) -> None:
        """A printer command that does not exist raises TemporaryError."""
        command = str(tmp_path / "no-such-lp")
        board = NoticeBoard(tmp_path / "queue", font_path=FONT, printer_command=command)
        with pytest.raises(TemporaryError, match="no-such-lp"):
            await board.commit(_pub(), await board.prepare(_pub()))


class TestAfterCommit:
    async def test_poll_defers_to_people(self, board: NoticeBoard) -> None:
        """Poll returns None because staff confirm the posting."""
        assert await board.poll(_pub()) is None

    async def test_withdraw_removes_queued_files(self, board: NoticeBoard) -> None:
        """Withdraw deletes the queued PDF and sidecar and tells staff to take the paper down."""
        await board.commit(_pub(), await board.prepare(_pub()))
        withdrawal = await board.withdraw(_pub())
        assert [p for p in _org_dir(board).iterdir() if p.is_file()] == []
        assert withdrawal.undone
        assert any("公开栏" in note for note in withdrawal.not_undone)

    async def test_withdraw_of_nothing_still_reminds(self, board: NoticeBoard) -> None:
        """Withdrawing a notice that was never queued undoes nothing but keeps the reminder."""
        withdrawal = await board.withdraw(_pub())
        assert withdrawal.undone == []
        assert withdrawal.not_undone


class TestCheck:
    async def test_check_reports_ready(self, board: NoticeBoard) -> None:
        """A writable queue and a present font give a Chinese status line."""
        assert "打印队列可用" in await board.check()
        await board.aclose()

    async def test_check_missing_font(self, tmp_path: Path) -> None:
        """A missing font fails the check as misconfiguration."""
        board = NoticeBoard(tmp_path / "queue", font_path=tmp_path / "none.ttc")
        with pytest.raises(ConfigurationError, match="fonts-wqy-zenhei"):
            await board.check()

    async def test_check_missing_printer(self, tmp_path: Path) -> None:
        """A printer command whose executable is not found fails the check."""
        board = NoticeBoard(tmp_path / "q", font_path=FONT, printer_command="no-such-lp -d x")
        with pytest.raises(ConfigurationError, match="no-such-lp"):
            await board.check()

    async def test_check_unwritable_queue(self, tmp_path: Path) -> None:
        """A queue path that is a file, not a directory, fails the check."""
        (tmp_path / "queue").write_text("", encoding="utf-8")
        board = NoticeBoard(tmp_path / "queue", font_path=FONT)
        with pytest.raises(ConfigurationError, match="不可写"):
            await board.check()
