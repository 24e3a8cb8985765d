"""Files that go with database rows (the notice-board posting's photo): staged and made
durable before the row, put in place inside the row's transaction, removed if it fails.

A failed write raises ``FolderError``: an ``OSError`` that names the folder and says what
went wrong (a full disk, a permission), never "database unavailable".
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
DENIED = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})
NOT_A_FOLDER = frozenset({errno.EEXIST, errno.ENOTDIR})


class FolderError(OSError):
    """Writing into ``folder`` failed; ``status_code`` is the HTTP answer it deserves."""

    def __init__(self, cause: OSError, folder: Path) -> None:
        super().__init__(cause.errno, cause.strerror, str(folder))
        self.folder = folder

    @property
    def full(self) -> bool:
        return self.errno in FULL

    @property
    def status_code(self) -> int:
        return 507 if self.full else 500

    @property
    def message(self) -> str:
        if self.full:
            return f"no space left to write to {self.folder}; nothing was changed"
        if self.errno in DENIED:
            return f"permission denied writing to {self.folder}; nothing was changed"
        if self.errno in NOT_A_FOLDER:
            return f"{self.folder} is not a folder; nothing was changed"
        return f"could not write to {self.folder} ({self.strerror}); nothing was changed"

    @property
    def message_zh(self) -> str:
        if self.full:
            return (
                f"服务器磁盘空间不足，无法写入文件夹 {self.folder}；本次操作未保存，请联系管理员。"
            )
        if self.errno in DENIED:
            return f"服务器没有写入文件夹 {self.folder} 的权限；本次操作未保存，请联系管理员。"
        if self.errno in NOT_A_FOLDER:
            return f"服务器上的 {self.folder} 不是文件夹，无法写入；本次操作未保存，请联系管理员。"
        return f"无法写入文件夹 {self.folder}（{self.strerror}）；本次操作未保存，请联系管理员。"


def folder_error(exc: OSError, folder: Path) -> FolderError:
    return exc if isinstance(exc, FolderError) else FolderError(exc, folder)


@dataclass
class StagedFile:
    """A file written and fsynced under a hidden name in its final folder."""

    folder: Path
    staged: Path
    placed: Path | None = field(default=None)

    def place(self, name: str) -> Path:
        """Give the staged file its real name (atomic within the folder), durably."""
        target = self.folder / name
        try:
            os.replace(self.staged, target)
            self.placed = target
            _fsync_dir(self.folder)
        except OSError as exc:
            raise folder_error(exc, self.folder) from exc
        return target

    def discard(self) -> None:
        """Remove whatever this file became: the staged copy, or the placed one."""
        for path in (self.staged, self.placed):
            if path is not None:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()


def stage(folder: Path, data: bytes, *, suffix: str = "") -> StagedFile:
    """Write ``data`` to a new hidden file in ``folder`` and fsync it; nothing is left
    behind if that fails."""
    staged = folder / f".staged-{secrets.token_hex(8)}{suffix}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except OSError as exc:
        raise folder_error(exc, folder) from exc
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except OSError as exc:
        os.close(fd)
        with contextlib.suppress(OSError):
            staged.unlink()
        raise folder_error(exc, folder) from exc
    os.close(fd)
    return StagedFile(folder, staged)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
