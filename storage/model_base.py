"""The base of every Gongkai model: Tortoise's ``Model`` without reading source for comments.

Tortoise reads each model class's source (``inspect.getsource``, a parse of the whole
file per class) to collect ``#:`` field comments. We write none, and the reading cost
about 0.1 s of every command's start-up; ``_no_comments`` is Tortoise's own switch for it.
"""

from __future__ import annotations

from typing import Any

from tortoise.models import Model as _TortoiseModel
from tortoise.models import ModelMeta

__all__ = ["Model"]


class _NoSourceComments(ModelMeta):
    def __new__(mcs, name: str, bases: tuple[type, ...], attrs: dict[str, Any]) -> Any:
        attrs.setdefault("_no_comments", True)
        return super().__new__(mcs, name, bases, attrs)


class Model(_TortoiseModel, metaclass=_NoSourceComments):
    class Meta:
        abstract = True
