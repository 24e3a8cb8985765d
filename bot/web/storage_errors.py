"""File-system errors as answers: a full disk is 507, a permission or other write error 500,
each naming the folder. Only the database drivers' connection errors mean "database
unavailable" (``storage.db.database_down_errors``, handled in ``bot.web``)."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from storage.files import FULL, FolderError

log = logging.getLogger("gongkai.web")
_ZH_CAUSE = {True: "磁盘空间不足", False: "文件系统出错"}


def as_folder_error(exc: OSError) -> FolderError | None:
    """The error with its folder, when the OS said which file it was about."""
    if isinstance(exc, FolderError):
        return exc
    if exc.filename:
        return FolderError(exc, Path(str(exc.filename)).parent)
    return None


async def file_system_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, OSError):  # registered for OSError only
        raise exc
    error = as_folder_error(exc)
    log.error(
        "file system error on %s %s: %s: %s",
        request.method,
        request.url.path,
        type(exc).__name__,
        exc,
    )
    full = exc.errno in FULL  # also without a file name (a temporary file, a spool)
    status_code = 507 if full else 500
    message = error.message if error else f"file system error ({exc.strerror or exc})"
    if request.url.path.startswith("/console/"):
        from bot.console.auth import wants_json
        from bot.console.templates import render

        zh = (
            error.message_zh
            if error
            else f"服务器{_ZH_CAUSE[full]}，本次操作未保存，请联系管理员。"
        )
        if not wants_json(request):
            return render(request, "error.html", status_code=status_code, message=zh)
        message = zh
    return JSONResponse({"detail": message}, status_code=status_code)


def install(app: FastAPI) -> None:
    """Answer ``OSError`` (other than connection errors, which have their own handler)."""
    app.add_exception_handler(OSError, file_system_error)
