"""The channel contract: every channel is one class with these methods and attributes.

A delivery goes through three kinds of work:

- ``prepare(pub)`` renders and uploads whatever the commit needs. It is always safe to
  repeat and returns a JSON-able dict that the dispatcher stores on the delivery.
- ``commit(pub, prepared)`` makes the item public (or hands it to the channel's queue).
  It carries ``pub.idempotency_key``, derived from the delivery, so a channel that can
  detect a repeat does so. ``commit_repeatable`` says whether a commit whose outcome is
  unknown (a crash, an expired lease) may simply be tried again; when it is ``False`` such
  a delivery goes to ``uncertain`` and a person decides.

``check()`` is the "test connection" button.

What a channel can do beyond that, it says by implementing a capability protocol; code
that needs one asks ``isinstance(channel, Batchable)``, never for a channel by name:

- ``Confirmable``: ``poll(pub)`` asks the platform, read-only, whether an accepted
  delivery is now confirmed; the dispatcher polls those whose ``polls_confirmation`` is
  true. Channels confirmed by people (the notice board) return ``None``.
- ``Withdrawable``: ``withdraw(pub)`` undoes a publication as far as the channel can and
  reports what it could not undo. A channel without it (a message in a chat group cannot
  be recalled) gets a note for staff to act on by hand.
- ``Batchable``: ``commit_batch`` (below).
- ``Previewable``: ``preview(pub, prepared, recipient)`` shows one person the item as the
  public will see it; nothing is published.
- ``AccountBound``: the channel works per organization account (``account``,
  ``check_account``).
- ``ValidatingChannel``: ``validate(pub)`` finds the channel's own limits at queue time.

Failures are never returned as values. Each method raises one of:

- ``TemporaryError``: try again later (``retry_after`` seconds, if the platform said so);
- ``PermanentError``: stop and show the reason to staff;
- ``ConfigurationError``: the channel is misconfigured for this organization (a wrong
  secret, no permission); the delivery pauses until staff fix the settings;
- ``Deferred``: not a failure: nothing was made public and the delivery must wait until
  ``until`` (the next broadcast slot, the next day's quota); no attempt is used up;
- ``OutcomeUnknown``: the platform may or may not have published it, and repeating could
  publish twice; the delivery goes to ``uncertain`` for a person to check.

A channel with ``batch_limit`` > 1 (``Batchable``) also offers ``commit_batch``: the
dispatcher groups up to that many due deliveries of one organization, gives them one
``batch_key`` (stored before the commit, so a repeat after a crash regroups exactly the
same deliveries under the same key) and commits them together.

Adapters translate their library's exceptions into these in one place, with ``from exc``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable


class ChannelError(Exception):
    """Base of channel failures; ``code`` is the platform's own error code, if any."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class TemporaryError(ChannelError):
    def __init__(
        self, message: str, *, code: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class PermanentError(ChannelError):
    pass


class Deferred(ChannelError):
    def __init__(self, message: str, *, until: dt.datetime, code: str | None = "deferred") -> None:
        super().__init__(message, code=code)
        self.until = until


class OutcomeUnknown(ChannelError):
    pass


class ConfigurationError(ChannelError):
    pass


@dataclass(frozen=True, slots=True)
class Publishable:
    """What a channel gets to know about one delivery of one item revision."""

    delivery_id: int
    idempotency_key: str
    org_code: str
    org_name: str
    item_id: int
    lineage_id: int
    revision: int
    index_no: str
    title: str
    body_md: str
    body_html: str
    summary: str
    category: str
    doc_number: str
    normative: bool
    formed_on: dt.date | None
    publish_date: dt.date  # Asia/Shanghai
    prepared: Mapping[str, Any] = field(default_factory=dict)
    external_id: str | None = None
    url: str | None = None
    batch_key: str | None = None
    source_url: str | None = None  # the item's page on the website, when it has one
    priority: int = 0
    urgent: bool = False
    author: str = ""


@dataclass(frozen=True, slots=True)
class Committed:
    """A successful commit; ``needs_confirmation`` keeps the delivery ``accepted``.

    ``counted`` False: published, but not 公开 in the annual report (a message to an
    internal group); the ledger keeps it as proof without counting it.
    """

    external_id: str | None = None
    url: str | None = None
    needs_confirmation: bool = False
    counted: bool = True


@dataclass(frozen=True, slots=True)
class Withdrawal:
    """What a withdraw achieved, in words staff can read."""

    undone: list[str] = field(default_factory=list)
    not_undone: list[str] = field(default_factory=list)


@runtime_checkable
class Channel(Protocol):
    name: ClassVar[str]
    commit_repeatable: bool

    async def prepare(self, pub: Publishable) -> dict[str, Any]: ...

    async def commit(self, pub: Publishable, prepared: Mapping[str, Any]) -> Committed: ...

    async def check(self) -> str: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class Confirmable(Protocol):
    """A channel whose platform confirms an accepted delivery later, read-only."""

    polls_confirmation: bool

    async def poll(self, pub: Publishable) -> Committed | None: ...


@runtime_checkable
class Withdrawable(Protocol):
    """A channel that can take a publication down again."""

    async def withdraw(self, pub: Publishable) -> Withdrawal: ...


@runtime_checkable
class Previewable(Protocol):
    """A channel that can show one recipient the item before it goes public."""

    async def preview(self, pub: Publishable, prepared: Mapping[str, Any], recipient: str) -> None:
        """Send the preview; nothing is published and no quota is used."""
        ...


@runtime_checkable
class Batchable(Channel, Protocol):
    """A channel that commits several deliveries of one organization at once."""

    batch_limit: int

    async def commit_batch(
        self, pubs: Sequence[Publishable], prepared: Sequence[Mapping[str, Any]]
    ) -> list[Committed | ChannelError]:
        """One result per delivery: a ChannelError holds that delivery alone while the
        others of the batch went out."""
        ...


@runtime_checkable
class AccountBound(Protocol):
    """A channel that works only for organizations with their own account on it.

    ``account`` raises ``ConfigurationError`` when the organization has none;
    ``check_account`` is the organization's "test connection" button.
    """

    async def account(self, org_code: str) -> object: ...

    async def check_account(self, org_code: str) -> str: ...


@runtime_checkable
class ValidatingChannel(Channel, Protocol):
    """A channel with limits of its own, checked when an item is queued, not at publish."""

    async def validate(self, pub: Publishable) -> list[tuple[str, str]]: ...
