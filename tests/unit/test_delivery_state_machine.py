"""The pure delivery state machine: every outcome, every legal and illegal transition."""

from __future__ import annotations

import random

import pytest

from storage.delivery import (
    ALLOWED,
    CLAIMABLE,
    FINAL,
    Decision,
    Outcome,
    RetryPolicy,
    State,
    decide,
    predecessors,
)

POLICY = RetryPolicy(
    max_attempts=4, base_seconds=10, cap_seconds=60, configuration_pause_seconds=900
)


def _decide(outcome: Outcome, attempts: int = 1, **kwargs: object) -> Decision:
    return decide(outcome, attempts=attempts, policy=POLICY, rng=random.Random(7), **kwargs)  # type: ignore[arg-type]


class TestDecide:
    @pytest.mark.parametrize(
        ("outcome", "expected"),
        [
            (Outcome.COMMITTED, State.PUBLISHED),
            (Outcome.ACCEPTED, State.ACCEPTED),
            (Outcome.PERMANENT, State.FAILED),
            (Outcome.CONFIGURATION, State.RETRY_WAIT),
            (Outcome.DEFERRED, State.RETRY_WAIT),
            (Outcome.UNKNOWN, State.UNCERTAIN),
            (Outcome.TEMPORARY, State.RETRY_WAIT),
        ],
    )
    def test_outcome_maps_to_state(self, outcome: Outcome, expected: State) -> None:
        """Each outcome of a first attempt leads to its own next state."""
        assert _decide(outcome).state is expected

    def test_temporary_failures_give_up_at_the_attempt_limit(self) -> None:
        """The attempt that reaches max_attempts fails for good, with the count as reason."""
        assert _decide(Outcome.TEMPORARY, attempts=3).state is State.RETRY_WAIT
        final = _decide(Outcome.TEMPORARY, attempts=4)
        assert final.state is State.FAILED
        assert final.reason == "gave up after 4 attempts"

    def test_backoff_grows_exponentially_within_jitter_and_cap(self) -> None:
        """Delay n lies in [c/2, c] with c = min(cap, base * 2**(n-1))."""
        rng = random.Random(1)
        for attempts, ceiling in [(1, 10), (2, 20), (3, 40), (4, 60), (9, 60)]:
            for _ in range(50):
                delay = POLICY.backoff(attempts, rng)
                assert ceiling / 2 <= delay <= ceiling

    def test_jitter_spreads_retries(self) -> None:
        """Two workers failing at once do not retry at the same instant."""
        rng = random.Random(3)
        delays = {round(POLICY.backoff(3, rng), 6) for _ in range(20)}
        assert len(delays) == 20

    def test_retry_after_from_the_platform_wins_when_longer(self) -> None:
        """A platform's Retry-After is respected when it exceeds our own backoff."""
        assert _decide(Outcome.TEMPORARY, retry_after=500.0).delay_seconds == 500.0
        assert _decide(Outcome.TEMPORARY, retry_after=0.1).delay_seconds != 0.1

    def test_configuration_errors_pause_for_the_configured_time(self) -> None:
        """A misconfigured channel waits the pause, not the short backoff."""
        assert _decide(Outcome.CONFIGURATION).delay_seconds == 900

    def test_configuration_errors_are_not_retried_forever(self) -> None:
        """After max_attempts pauses the delivery fails and waits for staff."""
        assert _decide(Outcome.CONFIGURATION, attempts=3).state is State.RETRY_WAIT
        assert _decide(Outcome.CONFIGURATION, attempts=4).state is State.FAILED

    def test_deferral_never_fails_and_waits_exactly(self) -> None:
        """A deferred delivery waits until the given time, however many times it was tried."""
        decision = _decide(Outcome.DEFERRED, attempts=99, retry_after=3600.0)
        assert (decision.state, decision.delay_seconds) == (State.RETRY_WAIT, 3600.0)

    def test_an_unknown_outcome_goes_to_a_person(self) -> None:
        """A lost answer that may have published is uncertain, never retried."""
        assert _decide(Outcome.UNKNOWN).state is State.UNCERTAIN

    def test_expired_lease_in_a_repeatable_step_goes_back_to_pending(self) -> None:
        """A crash during a step that is safe to repeat just repeats it."""
        assert _decide(Outcome.LEASE_EXPIRED, step_repeatable=True).state is State.PENDING

    def test_expired_lease_in_an_unrepeatable_step_is_uncertain(self) -> None:
        """A crash during a commit that cannot be repeated is left to a person."""
        assert _decide(Outcome.LEASE_EXPIRED, step_repeatable=False).state is State.UNCERTAIN


class TestTransitions:
    def test_every_state_has_an_entry(self) -> None:
        """The table covers every state."""
        assert set(ALLOWED) == set(State)

    def test_final_states_lead_only_to_withdrawal_or_a_retry(self) -> None:
        """Published may only be withdrawn; cancelled and withdrawn are dead ends."""
        assert ALLOWED[State.PUBLISHED] == {State.WITHDRAWN}
        assert ALLOWED[State.CANCELLED] == frozenset()
        assert ALLOWED[State.WITHDRAWN] == frozenset()
        assert ALLOWED[State.FAILED] == {State.PENDING, State.CANCELLED}
        assert {State.PUBLISHED, State.FAILED} <= FINAL

    def test_uncertain_is_never_claimed_automatically(self) -> None:
        """Nothing moves an uncertain delivery to sending: a person must decide first."""
        assert State.SENDING not in ALLOWED[State.UNCERTAIN]
        assert State.UNCERTAIN not in CLAIMABLE

    @pytest.mark.parametrize(
        ("target", "sources"),
        [  # written out by hand from the design, not computed from ALLOWED
            (State.PENDING, {State.RETRY_WAIT, State.SENDING, State.FAILED, State.UNCERTAIN}),
            (State.SENDING, {State.PENDING, State.RETRY_WAIT}),
            (State.RETRY_WAIT, {State.SENDING}),
            (State.ACCEPTED, {State.SENDING}),
            (State.FAILED, {State.SENDING, State.ACCEPTED}),
            (State.UNCERTAIN, {State.SENDING}),
            (
                State.CANCELLED,
                {State.PENDING, State.RETRY_WAIT, State.ACCEPTED, State.FAILED, State.UNCERTAIN},
            ),
            (State.WITHDRAWN, {State.PUBLISHED}),
        ],
    )
    def test_predecessors_are_the_states_that_lead_to_a_target(
        self, target: State, sources: set[State]
    ) -> None:
        """Where each state may be reached from (what storage.outbox accepts as a source)."""
        assert predecessors(target) == sources

    def test_published_is_reached_only_through_work_or_a_person(self) -> None:
        """Only sending, accepted or a person's check of uncertain can publish."""
        assert predecessors(State.PUBLISHED) == {State.SENDING, State.ACCEPTED, State.UNCERTAIN}
