"""Per-organization channel accounts: the form a channel declares and the store behind it.

A channel whose credentials differ per organization (a group robot's webhook key, say)
declares an ``AccountSpec`` in its registry entry. The console's 渠道设置 page and the API
route ``/api/v1/orgs/{org}/channels/<name>`` are generated from it; the channel's own
folder provides the input model, the output model and the store.

Secrets are write-only: the output model reports ``<field>_set`` flags, never the value,
and a secret left blank keeps the stored one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel

if TYPE_CHECKING:
    from channels.spec import BuildContext


class Sealer(Protocol):
    """Encrypts secrets at rest (``storage.crypto.SecretBox`` is one)."""

    def seal(self, plaintext: str) -> str: ...

    def open(self, sealed: str) -> str: ...


class AccountInputError(ValueError):
    """A settings change the store refuses; ``field`` names the input field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class AccountStore(Protocol):
    """Reads and writes one channel's per-organization account."""

    async def read(self, organization_id: int) -> BaseModel | None: ...

    async def write(self, organization_id: int, data: BaseModel) -> BaseModel:
        """Store ``data`` (sealing secrets) and return what ``read`` would now return."""
        ...


@dataclass(frozen=True)
class FormField:
    """One field of the console form; ``secret`` fields are never filled in again."""

    name: str
    label: str
    kind: Literal["text", "secret", "checkbox", "select"] = "text"
    help: str = ""
    options: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, kw_only=True)
class AccountSpec:
    """How the console and the API show and change a channel's per-organization account."""

    title: str
    input_model: type[BaseModel]
    output_model: type[BaseModel]
    fields: tuple[FormField, ...]
    store: Callable[[BuildContext], AccountStore]
    audit_label: str
    example: Mapping[str, Any]  # a valid input body: the API docs and the route tests

    @property
    def secret_fields(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.kind == "secret")
