"""Text rules for request bodies, with no web framework: ``StrictInput`` and the forbidden
characters. ``bot.web.inputs`` applies the same rules to paths, queries and raw bodies;
this half stays light so response models (and ``gongkai status``) load without FastAPI.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

__all__ = ["FORBIDDEN", "TEXT_RULE", "StrictInput", "forbidden_character"]

# C0 controls except tab, LF, CR; LRE, RLE, PDF, LRO, RLO; LRI, RLI, FSI, PDI.
FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\u202a-\u202e\u2066-\u2069]")
TEXT_RULE = "must not contain control characters (other than tab and newline) or bidi overrides"


def forbidden_character(text: str) -> str | None:
    """A description of the first forbidden character in ``text`` (None when clean)."""
    found = FORBIDDEN.search(text)
    if found is None:
        return None
    return f"{TEXT_RULE}: U+{ord(found.group()):04X} at position {found.start()}"


def _first_problem(value: Any) -> str | None:
    if isinstance(value, str):
        return forbidden_character(value)
    if isinstance(value, Mapping):
        for key, item in value.items():
            problem = _first_problem(key) or _first_problem(item)
            if problem:
                return problem
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            problem = _first_problem(item)
            if problem:
                return problem
    return None


class StrictInput(BaseModel):
    """Base of every request body: no unknown fields, no control or bidi characters."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _clean_text(cls, value: Any, info: ValidationInfo) -> Any:
        # Nested models check their own fields (with a precise loc); this covers strings,
        # lists of strings and mappings (keys too).
        problem = _first_problem(value)
        if problem:
            raise ValueError(problem)
        return value
