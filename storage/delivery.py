"""The delivery state machine: pure, no I/O, no clock.

::

    pending ──claim──▶ sending ──▶ accepted ──confirm──▶ published ──withdraw──▶ withdrawn
       ▲                 │  │          │
       └── retry_wait ◀──┘  │          └──▶ failed (the platform rejected it later)
                            ├──▶ failed (permanent, or attempts exhausted)
                            └──▶ uncertain (lease expired in a step that is not safe to repeat)
    any non-final ──cancel──▶ cancelled          failed / uncertain ──retry──▶ pending

``decide`` turns the outcome of one attempt into the next state; ``ALLOWED`` lists every
legal transition, and ``storage.outbox`` refuses any update that is not in it.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass


class State(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    RETRY_WAIT = "retry_wait"
    ACCEPTED = "accepted"
    PUBLISHED = "published"
    FAILED = "failed"
    UNCERTAIN = "uncertain"
    CANCELLED = "cancelled"
    WITHDRAWN = "withdrawn"


class Step(enum.StrEnum):
    """Where a delivery is inside the ``sending`` state."""

    PREPARE = "prepare"
    COMMIT = "commit"
    CONFIRM = "confirm"


FINAL = frozenset({State.PUBLISHED, State.FAILED, State.CANCELLED, State.WITHDRAWN})
CLAIMABLE = frozenset({State.PENDING, State.RETRY_WAIT})
NEEDS_A_PERSON = frozenset({State.FAILED, State.UNCERTAIN})

ALLOWED: dict[State, frozenset[State]] = {
    State.PENDING: frozenset({State.SENDING, State.CANCELLED}),
    State.RETRY_WAIT: frozenset({State.SENDING, State.PENDING, State.CANCELLED}),
    State.SENDING: frozenset(
        {
            State.ACCEPTED,
            State.PUBLISHED,
            State.RETRY_WAIT,
            State.FAILED,
            State.UNCERTAIN,
            State.PENDING,
        }
    ),
    State.ACCEPTED: frozenset({State.PUBLISHED, State.FAILED, State.CANCELLED}),
    State.PUBLISHED: frozenset({State.WITHDRAWN}),
    State.FAILED: frozenset({State.PENDING, State.CANCELLED}),
    State.UNCERTAIN: frozenset({State.PENDING, State.PUBLISHED, State.CANCELLED}),
    State.CANCELLED: frozenset(),
    State.WITHDRAWN: frozenset(),
}


def predecessors(target: State) -> frozenset[State]:
    """Every state from which ``target`` may be reached."""
    return frozenset(source for source, targets in ALLOWED.items() if target in targets)


class Outcome(enum.StrEnum):
    """What one attempt at a step came to."""

    COMMITTED = "committed"  # public now; no confirmation needed
    ACCEPTED = "accepted"  # the channel took it; a confirmation will follow
    TEMPORARY = "temporary"
    PERMANENT = "permanent"
    CONFIGURATION = "configuration"
    DEFERRED = "deferred"  # wait for a slot or quota; not a failure
    UNKNOWN = "unknown"  # may have been published: a person checks
    LEASE_EXPIRED = "lease_expired"  # the worker vanished mid-step: the try counts
    RELEASED = "released"  # the worker shut down mid-step: not the delivery's fault


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 8
    base_seconds: float = 5.0
    cap_seconds: float = 3600.0
    configuration_pause_seconds: float = 900.0

    def backoff(self, attempts: int, rng: random.Random) -> float:
        """Exponential delay after ``attempts`` tries, with equal jitter (half fixed)."""
        ceiling = min(self.cap_seconds, self.base_seconds * 2.0 ** max(attempts - 1, 0))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


@dataclass(frozen=True, slots=True)
class Decision:
    state: State
    delay_seconds: float | None = None  # for RETRY_WAIT: when to try again
    reason: str | None = None


def decide(
    outcome: Outcome,
    *,
    attempts: int,
    policy: RetryPolicy,
    rng: random.Random,
    retry_after: float | None = None,
    step_repeatable: bool = True,
) -> Decision:
    """Map the outcome of attempt number ``attempts`` to the delivery's next state."""
    if outcome is Outcome.COMMITTED:
        return Decision(State.PUBLISHED)
    if outcome is Outcome.ACCEPTED:
        return Decision(State.ACCEPTED)
    if outcome is Outcome.PERMANENT:
        return Decision(State.FAILED, reason="permanent")
    if outcome is Outcome.DEFERRED:
        return Decision(State.RETRY_WAIT, retry_after or 0.0, "deferred")
    if outcome is Outcome.UNKNOWN:
        return Decision(State.UNCERTAIN, reason="the platform's answer was lost")
    if outcome is Outcome.CONFIGURATION:
        if attempts >= policy.max_attempts:  # paused long enough: staff must fix and retry
            return Decision(
                State.FAILED, reason=f"configuration still wrong after {attempts} tries"
            )
        return Decision(State.RETRY_WAIT, policy.configuration_pause_seconds, "configuration")
    if outcome in (Outcome.LEASE_EXPIRED, Outcome.RELEASED):
        if not step_repeatable:
            return Decision(
                State.UNCERTAIN, reason="lease expired in a step that is not repeatable"
            )
        if outcome is Outcome.LEASE_EXPIRED and attempts >= policy.max_attempts:
            # A delivery that kills its worker every time must not loop forever.
            return Decision(State.FAILED, reason=f"gave up after {attempts} attempts")
        return Decision(State.PENDING, reason="lease expired in a repeatable step")
    if attempts >= policy.max_attempts:
        return Decision(State.FAILED, reason=f"gave up after {attempts} attempts")
    delay = max(policy.backoff(attempts, rng), retry_after or 0.0)
    return Decision(State.RETRY_WAIT, delay)
