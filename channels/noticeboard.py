"""The notice board channel: print-ready PDFs in a per-organization print queue (公开栏).

A commit only queues (and optionally prints) the notice; the delivery stays ``accepted``
until staff confirm they have posted the paper, which the outbox records.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import os
import re
import shlex
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, ParamSpec, TypeVar

from channels.base import (
    Committed,
    ConfigurationError,
    PermanentError,
    Publishable,
    TemporaryError,
    Withdrawal,
)

if TYPE_CHECKING:
    from channels.printpdf import RenderedNotice

PRINT_TIMEOUT = 120.0  # seconds; lp returns once the job is spooled
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_PAPER_NOTE = "已张贴的纸质公告须由工作人员从公开栏撤下。"
P = ParamSpec("P")
T = TypeVar("T")


def _safe_name(value: str, what: str) -> str:
    if not _SAFE_NAME.fullmatch(value):
        raise ValueError(f"{what} {value!r} 不能用作文件名")
    return value


def _atomic_write(path: Path, data: bytes) -> None:
    """Writes data to path so that readers see either the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(tmp, 0o644)  # the web layer and print spooler may run as other users
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    text = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    _atomic_write(path, text.encode("utf-8"))


class NoticeBoard:
    """Renders notices to PDF, queues them for printing and waits for staff to post them."""

    name: ClassVar[str] = "noticeboard"
    commit_repeatable: bool = True
    polls_confirmation: bool = False  # people confirm a posting, not the platform

    def __init__(
        self,
        queue_dir: Path,
        *,
        font_path: Path,
        printer_command: str = "",
        posting_period_days: int = 30,
    ) -> None:
        self.queue_dir = Path(queue_dir)
        self.font_path = Path(font_path)
        self.printer_argv = shlex.split(printer_command)
        self.posting_period_days = posting_period_days

    def queued_pdf_path(self, org_code: str, idempotency_key: str) -> Path:
        """Returns where the queued PDF of one delivery lives; ValueError for unsafe names."""
        org = _safe_name(org_code, "机构代码")
        return self.queue_dir / org / f"{_safe_name(idempotency_key, '幂等键')}.pdf"

    def _paths(self, pub: Publishable) -> tuple[Path, Path]:
        try:
            queued = self.queued_pdf_path(pub.org_code, pub.idempotency_key)
        except ValueError as exc:
            raise PermanentError(str(exc)) from exc
        return queued.parent / ".staging" / queued.name, queued

    def _relative(self, path: Path) -> str:
        return path.relative_to(self.queue_dir).as_posix()

    async def _render(self, pub: Publishable) -> RenderedNotice:
        from channels.printpdf import render_notice  # reportlab loads on the first notice

        return await asyncio.to_thread(render_notice, pub, font_path=self.font_path)

    async def prepare(self, pub: Publishable) -> dict[str, Any]:
        """Renders the notice into the organization's staging area, outside the print queue."""
        staged, _ = self._paths(pub)
        rendered = await self._render(pub)
        await _run_io(_atomic_write, staged, rendered.pdf)
        return {
            "pdf": self._relative(staged),
            "sha256": hashlib.sha256(rendered.pdf).hexdigest(),
            "pages": rendered.pages,
        }

    async def commit(self, pub: Publishable, prepared: Mapping[str, Any]) -> Committed:
        """Moves the staged PDF into the print queue with its sidecar and prints it once."""
        staged, queued = self._paths(pub)
        sidecar_path = queued.with_suffix(".json")
        sidecar = await _run_io(_read_json, sidecar_path)
        if sidecar is None:
            sidecar = self._sidecar(pub, int(prepared.get("pages") or 0))
            await _run_io(_write_json, sidecar_path, sidecar)
        if not await _run_io(queued.exists):
            sidecar = await self._enqueue(pub, staged, queued, sidecar, sidecar_path)
        await _run_io(staged.unlink, missing_ok=True)  # left by a prepare repeated after commit
        if self.printer_argv and not sidecar.get("printed_at"):
            await self._print(queued)
            sidecar = {**sidecar, "printed_at": _now(), "printer": shlex.join(self.printer_argv)}
            await _run_io(_write_json, sidecar_path, sidecar)
        return Committed(external_id=self._relative(queued), url=None, needs_confirmation=True)

    async def _enqueue(
        self,
        pub: Publishable,
        staged: Path,
        queued: Path,
        sidecar: dict[str, Any],
        sidecar_path: Path,
    ) -> dict[str, Any]:
        # The staged file is missing when staging was cleaned up or another host prepared.
        if await _run_io(staged.exists):
            await _run_io(os.replace, staged, queued)
            return sidecar
        rendered = await self._render(pub)
        await _run_io(_atomic_write, queued, rendered.pdf)
        sidecar = {**sidecar, "pages": rendered.pages}
        await _run_io(_write_json, sidecar_path, sidecar)
        return sidecar

    def _sidecar(self, pub: Publishable, pages: int) -> dict[str, Any]:
        return {
            "title": pub.title,
            "index_no": pub.index_no,
            "org": pub.org_name,
            "org_code": pub.org_code,
            "delivery_id": pub.delivery_id,
            "publish_date": pub.publish_date.isoformat(),
            "queued_at": _now(),
            "pages": pages,
            "posting_period_days": self.posting_period_days,
            "post_until": (
                pub.publish_date + dt.timedelta(days=self.posting_period_days)
            ).isoformat(),
            "printed_at": None,
        }

    async def _print(self, pdf: Path) -> None:
        argv = [*self.printer_argv, str(pdf)]
        try:
            process = await asyncio.create_subprocess_exec(
                *argv, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
            )
        except OSError as exc:
            raise TemporaryError(f"无法启动打印命令 {argv[0]}：{exc}") from exc
        try:
            _, stderr = await asyncio.wait_for(process.communicate(), PRINT_TIMEOUT)
        except TimeoutError as exc:
            process.kill()
            await process.wait()
            raise TemporaryError(f"打印命令 {argv[0]} 超过 {PRINT_TIMEOUT:.0f} 秒未结束") from exc
        if process.returncode != 0:
            detail = stderr.decode("utf-8", errors="replace").strip()[-500:]
            raise TemporaryError(
                f"打印命令 {argv[0]} 失败（退出码 {process.returncode}）：{detail or '无输出'}",
                code=str(process.returncode),
            )

    async def poll(self, pub: Publishable) -> Committed | None:
        """Returns None: staff, not a platform, confirm that the notice is posted."""
        return None

    async def withdraw(self, pub: Publishable) -> Withdrawal:
        """Takes the notice out of the print queue and reminds staff to remove the paper copy."""
        staged, queued = self._paths(pub)
        sidecar = await _run_io(_read_json, queued.with_suffix(".json")) or {}
        removed = await _run_io(_remove, [queued, queued.with_suffix(".json"), staged])
        undone = ["已从打印队列中删除该公告的 PDF，不会再次打印。"] if removed else []
        printed = sidecar.get("printed_at")
        note = f"该公告已于 {printed} 送打印机打印；{_PAPER_NOTE}" if printed else _PAPER_NOTE
        return Withdrawal(undone=undone, not_undone=[note])

    async def check(self) -> str:
        """Verifies the queue directory, the font and the printer command; returns a status line."""
        await _run_io(_check_writable, self.queue_dir)
        from channels.printpdf import register_font

        await asyncio.to_thread(register_font, self.font_path)
        if not self.printer_argv:
            return f"打印队列可用（{self.queue_dir}），字体正常；未配置打印机，须手动打印。"
        if shutil.which(self.printer_argv[0]) is None:
            raise ConfigurationError(
                f"找不到打印命令 {self.printer_argv[0]}：请安装或改正打印机设置。"
            )
        command = shlex.join(self.printer_argv)
        return f"打印队列可用（{self.queue_dir}），字体正常，打印命令：{command}。"

    async def aclose(self) -> None:
        """Does nothing: the channel holds no connections."""


async def _run_io(func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Runs blocking file work in a thread and maps storage failures to channel errors."""
    try:
        return await asyncio.to_thread(func, *args, **kwargs)
    except PermissionError as exc:
        raise ConfigurationError(f"打印队列目录没有写权限：{exc}") from exc
    except OSError as exc:
        raise TemporaryError(f"打印队列读写失败：{exc}") from exc


def _remove(paths: list[Path]) -> bool:
    removed = False
    for path in paths:
        if path.exists():
            path.unlink()
            removed = True
    return removed


def _check_writable(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as exc:
        raise ConfigurationError(f"打印队列目录 {directory} 不可写：{exc}") from exc


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
