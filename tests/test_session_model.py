"""The refresh-token state machine against a small pure-Python model (hypothesis stateful).

Each run drives a real `Sessions` over a fresh SQLite file with a manual clock, through random
sequences of: open; refresh with the current token (alone, from several callers at once, or as
a steady client every N seconds, up to and across the absolute deadline); rotate then retry the
same token after a gap (lost response, second tab); replay the previous token; replay an older
token; present garbage or a tampered token; logout (with any generation's token); revoke one
session (as its owner, or as someone else: refused); revoke all of a subject's sessions; and
moves of the clock (fixed steps, and jumps to just before / exactly at / just after a session's
grace, idle or absolute deadline, optionally presenting a token right there).

The model (DESIGN.md, "Refresh token"):
- a session is alive while not revoked, `now < created_at + max_age` and
  `now < last_used_at + idle_ttl` (a deadline is the first instant that refuses, as
  `Issued.refresh_expires_at` says); `last_used_at` moves only on a rotation;
- a dead session refuses every token with a plain `InvalidGrant` and revokes nothing new;
- the current token rotates: a new, never-seen token, the old one becomes "previous"; when
  several callers present it at once, exactly one rotates and all get the same new token;
- the previous token within `reuse_grace` of the last rotation (inclusive) returns the identical
  current token, `rotated=False`, and neither rotates nor resets the idle clock;
- the previous token after the grace window, or any older token: `RefreshTokenReused`, and the
  whole session is revoked;
- unknown or malformed input: `InvalidGrant`, nothing changes;
- logout with any token of a session revokes it (idempotent); garbage logs nothing out.
"""

from __future__ import annotations

import asyncio
import shutil
import string
import tempfile
from collections.abc import Coroutine
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from tessera.clock import ManualClock
from tessera.errors import InvalidGrant, RefreshTokenReused
from tessera.sealing import Sealer
from tessera.sessions.refresh_token import PREFIX, well_formed
from tessera.sessions.service import ClientInfo, Issued, SessionPolicy, Sessions
from tessera.store.migrate import upgrade
from tessera.store.sql import SQLStore

GRACE = 10.0
IDLE = 100.0
MAX_AGE = 300.0
START = 1_800_000_000.0  # every clock value stays a multiple of 0.5: float arithmetic is exact
SUBJECTS = ("alice", "bob", "carol")
CLIENT = ClientInfo(ip="203.0.113.9", user_agent="model-test")

T = TypeVar("T")


class Outcome(Enum):
    ROTATE = "rotate"
    GRACE = "grace"
    REUSE = "reuse"
    DEAD = "dead"


@dataclass
class ModelSession:
    id: str
    subject: str
    created_at: float
    last_used_at: float
    tokens: list[str]  # index = generation; the last one is current
    rotated_at: float | None = None
    revoked: bool = False

    @property
    def generation(self) -> int:
        return len(self.tokens) - 1

    @property
    def expires_at(self) -> float:
        return self.created_at + MAX_AGE

    @property
    def refresh_expires_at(self) -> float:
        return min(self.expires_at, self.last_used_at + IDLE)

    def alive(self, now: float) -> bool:
        return not self.revoked and now < self.expires_at and now < self.last_used_at + IDLE

    def outcome(self, generation: int, now: float) -> Outcome:
        if not self.alive(now):
            return Outcome.DEAD
        if generation == self.generation:
            return Outcome.ROTATE
        if (
            generation == self.generation - 1
            and self.rotated_at is not None
            and now - self.rotated_at <= GRACE
        ):
            return Outcome.GRACE
        return Outcome.REUSE


@dataclass
class Model:
    sessions: dict[str, ModelSession] = field(default_factory=dict)
    issued: set[str] = field(default_factory=set)  # every refresh token ever handed out

    def alive_ids(self, now: float, subject: str | None = None) -> set[str]:
        return {
            s.id
            for s in self.sessions.values()
            if s.alive(now) and (subject is None or s.subject == subject)
        }


_URLSAFE = string.ascii_letters + string.digits + "-_"

garbage = st.one_of(
    # well-formed but never issued
    st.text(alphabet=_URLSAFE, min_size=43, max_size=43).map(lambda s: PREFIX + s),
    # malformed strings: wrong prefix, wrong length, anything at all
    st.text(alphabet=_URLSAFE, min_size=0, max_size=60),
    st.text(max_size=60),
    st.just(""),
    st.just(PREFIX),
    # not strings at all
    st.none(),
    st.integers(),
    st.binary(max_size=48),
    st.lists(st.integers(), max_size=3),
)

# Mostly small moves around the grace window, sometimes big ones past idle or max_age.
SMALL_STEPS = st.sampled_from([0.5, 1.0, 5.0, 9.5, 10.0, 10.5, 11.0, 30.0])
LARGE_STEPS = st.sampled_from([50.0, 99.5, 100.0, 100.5, 150.0, 300.0])
STEPS = st.one_of(SMALL_STEPS, SMALL_STEPS, SMALL_STEPS, LARGE_STEPS)
# Exactly the boundary half of the time, else just before or just after it.
OFFSET = st.one_of(st.just(0.0), st.sampled_from([-0.5, 0.5]))
RETRY_GAP = st.one_of(st.just(GRACE), SMALL_STEPS)
PICK = st.integers(min_value=0, max_value=15)


class SessionMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.tmp = Path(tempfile.mkdtemp(prefix="tessera-model-"))
        self.store = SQLStore.from_url(f"sqlite+aiosqlite:///{self.tmp / 'tessera.db'}")
        self.clock = ManualClock(START)
        self.service = Sessions(
            self.store,
            Sealer(b"x" * 32, "refresh-tokens"),
            self.clock,
            SessionPolicy(idle_ttl=IDLE, max_age=MAX_AGE, reuse_grace=GRACE),
        )
        self.model = Model()
        self.seen_alive: set[str] = set()  # sessions alive at the last invariant check
        self.checks = 0
        try:
            self.run(upgrade(self.store.engine))
        except BaseException:
            self.teardown()  # hypothesis calls teardown only on a machine that was built
            raise

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    def teardown(self) -> None:
        try:
            self.run(self.store.close())
        finally:
            self.loop.close()
            shutil.rmtree(self.tmp, ignore_errors=True)

    # helpers ---------------------------------------------------------------------------------

    def _choose(self, anyone: bool, pick: int) -> ModelSession:
        """Session number `pick` (modulo) among all sessions opened so far when `anyone`
        (revoked and expired ones included); else among the live ones, opening a new one for
        subject number `pick` when none is alive (so that most steps exercise live sessions)."""
        if anyone:
            everyone = list(self.model.sessions.values())
            return everyone[pick % len(everyone)]
        now = self.clock.now()
        live = [m for m in self.model.sessions.values() if m.alive(now)]
        if not live:
            return self._open(SUBJECTS[pick % len(SUBJECTS)])
        return live[pick % len(live)]

    def _open(self, subject: str) -> ModelSession:
        now = self.clock.now()
        issued = self.run(self.service.open(subject, "user", CLIENT))
        self._record_new_token(issued.refresh_token)
        m = ModelSession(
            id=issued.session.id,
            subject=subject,
            created_at=now,
            last_used_at=now,
            tokens=[issued.refresh_token],
        )
        assert m.id not in self.model.sessions
        self.model.sessions[m.id] = m
        assert issued.session.created_at == now
        self._check_issued(issued, m)
        return m

    def _record_new_token(self, token: str) -> None:
        assert well_formed(token), token
        assert token not in self.model.issued, "a refresh token was issued twice"
        self.model.issued.add(token)

    def _check_issued(self, issued: Issued, m: ModelSession) -> None:
        assert issued.session.id == m.id
        assert issued.session.subject == m.subject
        assert issued.session.generation == m.generation
        assert issued.session.expires_at == m.expires_at  # rotation never extends it
        assert issued.session.last_used_at == m.last_used_at
        assert issued.session.revoked_at is None
        assert issued.refresh_token == m.tokens[-1]
        assert issued.refresh_expires_at == m.refresh_expires_at

    def _refresh(self, m: ModelSession, generation: int) -> None:
        """Present `m`'s token of `generation` and check the outcome against the model."""
        token = m.tokens[generation]
        now = self.clock.now()
        expected = m.outcome(generation, now)
        event(f"refresh outcome: {expected.value}")
        # Boundaries worth seeing hit (on sessions not already dead for another reason):
        if not m.revoked and now < m.expires_at and now <= m.last_used_at + IDLE:
            if now == m.last_used_at + IDLE:
                event("presented exactly at the idle deadline")
            elif m.rotated_at is not None and now == m.rotated_at + GRACE:
                event("presented exactly at the end of the grace window")
        if not m.revoked and now == m.expires_at and now < m.last_used_at + IDLE:
            event("presented exactly at the absolute deadline")

        if expected is Outcome.DEAD:
            with pytest.raises(InvalidGrant) as refused:
                self.run(self.service.refresh(token, CLIENT))
            # A dead session (revoked or expired) is not a fresh reuse: nothing is revoked now.
            assert not isinstance(refused.value, RefreshTokenReused), refused.value
            return

        if expected is Outcome.REUSE:
            with pytest.raises(RefreshTokenReused):
                self.run(self.service.refresh(token, CLIENT))
            m.revoked = True
            # From now on every token of the family is refused, the newest included.
            with pytest.raises(InvalidGrant):
                self.run(self.service.refresh(m.tokens[-1], CLIENT))
            audit = self.run(self.store.list_audit(m.id))
            assert any(e.kind == "refresh_token_reuse" for e in audit), audit
            return

        issued = self.run(self.service.refresh(token, CLIENT))
        if expected is Outcome.GRACE:
            # The identical current token; no rotation; the idle clock is not reset.
            assert issued.rotated is False
            assert issued.refresh_token == m.tokens[-1]
            self._check_issued(issued, m)
            return

        assert expected is Outcome.ROTATE
        assert issued.rotated is True
        self._record_new_token(issued.refresh_token)
        m.tokens.append(issued.refresh_token)
        m.last_used_at = now
        m.rotated_at = now
        self._check_issued(issued, m)

    # rules -----------------------------------------------------------------------------------

    @initialize()
    def first_session(self) -> None:
        self._open(SUBJECTS[0])

    @rule(subject=st.sampled_from(SUBJECTS))
    def open_session(self, subject: str) -> None:
        self._open(subject)

    @rule(anyone=st.booleans(), pick=PICK)
    def refresh_current(self, anyone: bool, pick: int) -> None:
        m = self._choose(anyone, pick)
        self._refresh(m, m.generation)

    @rule(anyone=st.booleans(), pick=PICK)
    def replay_previous(self, anyone: bool, pick: int) -> None:
        m = self._choose(anyone, pick)
        if m.generation >= 1:
            self._refresh(m, m.generation - 1)

    @rule(anyone=st.booleans(), pick=PICK, back=st.integers(min_value=2, max_value=6))
    def replay_old(self, anyone: bool, pick: int, back: int) -> None:
        m = self._choose(anyone, pick)
        if m.generation >= 2:
            self._refresh(m, max(0, m.generation - back))

    @rule(anyone=st.booleans(), pick=PICK, callers=st.integers(min_value=2, max_value=3))
    def concurrent_refresh(self, anyone: bool, pick: int, callers: int) -> None:
        """Several tabs refresh with the current token at once: the store's compare-and-set lets
        exactly one rotate; the others land in its grace window and get the very same token."""
        m = self._choose(anyone, pick)
        token = m.tokens[-1]
        now = self.clock.now()
        expected = m.outcome(m.generation, now)
        event(f"concurrent refresh: {expected.value}")

        async def together() -> list[Issued | BaseException]:
            calls = [self.service.refresh(token, CLIENT) for _ in range(callers)]
            return await asyncio.gather(*calls, return_exceptions=True)

        results = self.run(together())
        if expected is Outcome.DEAD:
            for r in results:
                assert isinstance(r, InvalidGrant), r
                assert not isinstance(r, RefreshTokenReused), r
            return
        assert expected is Outcome.ROTATE
        issued = [r for r in results if isinstance(r, Issued)]
        assert len(issued) == callers, results
        assert sum(i.rotated for i in issued) == 1, [i.rotated for i in issued]
        assert len({i.refresh_token for i in issued}) == 1
        self._record_new_token(issued[0].refresh_token)
        m.tokens.append(issued[0].refresh_token)
        m.last_used_at = now
        m.rotated_at = now
        for i in issued:
            self._check_issued(i, m)

    @rule(anyone=st.booleans(), pick=PICK, gap=RETRY_GAP)
    def refresh_then_retry(self, anyone: bool, pick: int, gap: float) -> None:
        """A lost response or a second tab: rotate, then the same token comes back `gap` later."""
        m = self._choose(anyone, pick)
        presented = m.generation
        self._refresh(m, presented)
        self.clock.advance(gap)
        self._refresh(m, presented)

    @rule(
        anyone=st.booleans(),
        pick=PICK,
        every=st.sampled_from([25.0, 50.0, 99.5]),
        times=st.integers(min_value=1, max_value=7),
    )
    def steady_client(self, anyone: bool, pick: int, every: float, times: int) -> None:
        """A well-behaved client refreshing every `every` seconds: the session survives the
        idle timeout for as long as it keeps rotating, but never its absolute lifetime."""
        m = self._choose(anyone, pick)
        for _ in range(times):
            self.clock.advance(every)
            self._refresh(m, m.generation)
            if not m.alive(self.clock.now()):
                break

    @rule(
        anyone=st.booleans(),
        pick=PICK,
        every=st.sampled_from([50.0, 99.5]),
        offset=OFFSET,
    )
    def live_to_the_end(self, anyone: bool, pick: int, every: float, offset: float) -> None:
        """A steady client up to its session's absolute deadline (just before, exactly at or
        just after it), then one more refresh there: rotation kept the session from idling
        out, yet the absolute lifetime holds."""
        m = self._choose(anyone, pick)
        end = m.expires_at + offset
        while m.alive(self.clock.now()) and self.clock.now() + every < end:
            self.clock.advance(every)
            self._refresh(m, m.generation)
        if self.clock.now() < end:
            self.clock.advance(end - self.clock.now())
        self._refresh(m, m.generation)

    @rule(token=garbage)
    def present_garbage(self, token: object) -> None:
        with pytest.raises(InvalidGrant) as refused:
            self.run(self.service.refresh(token, CLIENT))
        assert not isinstance(refused.value, RefreshTokenReused)
        assert self.run(self.service.logout(token, CLIENT)) is None

    @rule(anyone=st.booleans(), pick=PICK, position=st.integers(min_value=0, max_value=42))
    def present_tampered(self, anyone: bool, pick: int, position: int) -> None:
        """The current token with one character changed: well-formed, unknown, harmless."""
        current = self._choose(anyone, pick).tokens[-1]
        position += len(PREFIX)
        swapped = "A" if current[position] != "A" else "B"
        tampered = current[:position] + swapped + current[position + 1 :]
        assert well_formed(tampered)
        with pytest.raises(InvalidGrant) as refused:
            self.run(self.service.refresh(tampered, CLIENT))
        assert not isinstance(refused.value, RefreshTokenReused)

    @rule(anyone=st.booleans(), pick=PICK, back=st.integers(min_value=0, max_value=4))
    def logout(self, anyone: bool, pick: int, back: int) -> None:
        """Logout with any generation's token (current, previous, older) revokes the session."""
        m = self._choose(anyone, pick)
        token = m.tokens[max(0, m.generation - back)]
        ended = self.run(self.service.logout(token, CLIENT))
        assert ended is not None
        assert ended.id == m.id
        m.revoked = True

    @rule(anyone=st.booleans(), pick=PICK, as_owner=st.booleans())
    def revoke_one(self, anyone: bool, pick: int, as_owner: bool) -> None:
        m = self._choose(anyone, pick)
        if as_owner:
            assert self.run(self.service.revoke(m.id, "admin", CLIENT, subject=m.subject))
            m.revoked = True
        else:
            stranger = next(s for s in SUBJECTS if s != m.subject)
            assert not self.run(self.service.revoke(m.id, "admin", CLIENT, subject=stranger))

    @rule(subject=st.sampled_from(SUBJECTS))
    def revoke_all(self, subject: str) -> None:
        now = self.clock.now()
        mine = [s for s in self.model.sessions.values() if s.subject == subject]
        count = self.run(self.service.revoke_all(subject, "logout_all", CLIENT))
        # Every live session must be counted; already-revoked ones never are. (Whether expired
        # but unrevoked rows are counted is the store's business.)
        assert sum(s.alive(now) for s in mine) <= count <= sum(not s.revoked for s in mine)
        for s in mine:
            s.revoked = True

    @rule(seconds=STEPS)
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @rule(
        anyone=st.booleans(),
        pick=PICK,
        deadline=st.sampled_from(["grace", "idle", "max_age"]),
        offset=OFFSET,
        then=st.sampled_from(["wait", "present_current", "present_previous"]),
    )
    def advance_to_deadline(
        self, anyone: bool, pick: int, deadline: str, offset: float, then: str
    ) -> None:
        """Jump to just before, exactly at, or just after one of a session's deadlines (unless
        that moment has passed), then possibly present that session's current or previous
        token right there."""
        m = self._choose(anyone, pick)
        if deadline == "grace":
            target = (m.rotated_at if m.rotated_at is not None else m.created_at) + GRACE
        elif deadline == "idle":
            target = m.last_used_at + IDLE
        else:
            target = m.expires_at
        target += offset
        now = self.clock.now()
        if target > now:
            self.clock.advance(target - now)
            assert self.clock.now() == target
        if then == "present_current":
            self._refresh(m, m.generation)
        elif then == "present_previous" and m.generation >= 1:
            self._refresh(m, m.generation - 1)

    # invariants ------------------------------------------------------------------------------

    @invariant()
    def real_and_model_agree_on_active_sessions(self) -> None:
        """`is_active`, the listing of all sessions and a per-subject listing match the model.

        To keep the run short, `is_active` is asked about the live sessions and those that died
        since the last check (a dead session stays dead: revocation is final and deadlines move
        only through a rotation, which a dead session refuses; and the listing would show one
        that came back), and one subject's listing is checked per step, in turn."""
        now = self.clock.now()
        alive = self.model.alive_ids(now)
        for sid in [sid for sid in self.model.sessions if sid in alive or sid in self.seen_alive]:
            m = self.model.sessions[sid]
            assert self.run(self.service.is_active(sid)) == m.alive(now), m
        self.seen_alive = alive

        everyone = self.run(self.service.active(None))
        assert {s.id for s in everyone} == alive
        created = [s.created_at for s in everyone]
        assert created == sorted(created, reverse=True)  # newest first

        self.checks += 1
        subject = SUBJECTS[self.checks % len(SUBJECTS)]
        listed = self.run(self.service.active(subject))
        assert {s.id for s in listed} == self.model.alive_ids(now, subject), subject
        assert all(s.subject == subject for s in listed)


SessionMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
TestSessionModel = SessionMachine.TestCase
