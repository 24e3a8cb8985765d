"""The web layer. ``create_app`` lives in :mod:`bot.web.app` and is loaded only when asked for.

Importing a light module such as ``bot.web.views`` (``gongkai status``) must not build
the whole app: FastAPI, the console, the channels and their templates cost about a second.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.web.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from bot.web.app import create_app

        return create_app
    raise AttributeError(f"module 'bot.web' has no attribute {name!r}")
