"""What a channel folder hands the shared contract suite (tests/contract).

A channel package may ship a ``testing`` module with ``CONTRACT_SUBJECTS``: names mapped
to factories that start the channel against its own loopback fake and yield a
``ContractSubject``. The suite runs every registered channel's subjects; a registered
channel without one fails the suite.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from channels.base import Channel, Publishable


@dataclass
class ContractSubject:
    """A channel and a way to see, from outside it, how many times an item went public."""

    channel: Channel
    public_copies: Callable[[Publishable], int]


SubjectFactory = Callable[[Path], AsyncIterator[ContractSubject]]


def packaged_subjects(channel_name: str) -> dict[str, SubjectFactory]:
    """The contract subjects ``channels/<name>/testing.py`` provides, if it exists."""
    try:
        module = importlib.import_module(f"channels.{channel_name}.testing")
    except ModuleNotFoundError as exc:
        if exc.name not in (f"channels.{channel_name}", f"channels.{channel_name}.testing"):
            raise
        return {}
    found: dict[str, SubjectFactory] = module.CONTRACT_SUBJECTS
    return found
