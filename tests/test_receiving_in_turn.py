"""Under processing time a client is a queue of jobs: a commit, proposal or application message
that arrives while the client's Welcome is still in processing must be handled after the join,
against the state it installs — not dropped because the client had no state of the group on
arrival (which left members one epoch behind for good: found in wg-processing-split, 1,000
phones, a commit 0.5 s after the group's creation). Without a queued job, a message for a group
the client is not in is dropped, as before."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from mlssim.mls.errors import MLSError
from mlssim.sim import receiving


class Queue:
    """A client's FIFO of jobs, run by hand (``sim/processing.py``'s Queued, without time)."""

    instant = False

    def __init__(self) -> None:
        self.jobs: list[tuple[str, Callable[[], Any], Callable[[Any], None]]] = []

    def busy(self, client: str) -> bool:
        return bool(self.jobs)

    def run(self, client: str, kind: str, compute: Callable[[], Any], then: Callable[[Any], None]) -> None:
        self.jobs.append((kind, compute, then))

    def next(self) -> str:
        kind, compute, then = self.jobs.pop(0)
        then(compute())
        return kind


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.counts: Counter[tuple[str, str]] = Counter()

    def event(self, t: float, kind: str, **kw: Any) -> None:
        self.events.append((kind, kw))


class State:
    active = True
    epoch = 1


class World:
    misbehaviour = None
    forgeries = None

    def __init__(self) -> None:
        self.processing = Queue()
        self.recorder = Recorder()
        self.env = type("Env", (), {"now": 0.0})()
        self.resyncs: list[tuple[str, str]] = []

    def start_resync(self, c: Any, group: str, reason: str) -> None:
        self.resyncs.append((group, reason))


class Failed(MLSError):
    """What the fake core answers: the test checks which state it was given."""


class Client:
    name = "bob"

    def __init__(self, world: World) -> None:
        self.world = world
        self.groups: dict[str, Any] = {}
        self.joined_epoch: dict[str, int] = {}
        self.resyncing: dict[str, dict[str, float]] = {}
        self.forks: dict[str, Any] = {}
        self.config = type("Config", (), {"keep_past_epochs": 0})()
        self.seen: list[tuple[str, Any, Any]] = []
        self.result: Any = Failed("checked")

    def process_message(self, group: str, g: Any, msg: Any) -> Any:
        self.seen.append((group, g, msg))
        return self.result


def join_job(w: World, c: Client, state: State) -> None:
    """A Welcome in processing: the state exists when its job is done."""
    w.processing.run(c.name, "welcome", lambda: state, lambda s: c.groups.__setitem__("g", s))


@pytest.mark.parametrize("handler", ["commit", "proposal"])
def test_a_handshake_message_waits_for_the_welcome_in_processing(handler: str) -> None:
    w = World()
    c = Client(w)
    state = State()
    join_job(w, c, state)
    getattr(receiving, handler)(c, "g", "msg")
    assert [k for k, *_ in w.processing.jobs] == ["welcome", handler]
    assert w.processing.next() == "welcome" and c.groups["g"] is state
    assert w.processing.next() == handler
    assert c.seen == [("g", state, "msg")]  # handled with the state the Welcome installed
    assert ("process_error", {"group": "g", "client": "bob", "error": "Failed"}) in w.recorder.events


@pytest.mark.parametrize("handler", ["commit", "proposal"])
def test_without_a_queued_job_a_message_for_a_group_the_client_is_not_in_is_dropped(handler: str) -> None:
    w = World()
    c = Client(w)
    getattr(receiving, handler)(c, "g", "msg")
    assert w.processing.jobs == [] and c.seen == []


def test_a_queued_job_that_installs_no_state_leaves_the_message_dropped_in_its_turn() -> None:
    w = World()
    c = Client(w)
    w.processing.run(c.name, "application", lambda: None, lambda _: None)  # some other job
    receiving.commit(c, "g", "msg")
    w.processing.next()
    w.processing.next()
    assert c.seen == [] and w.resyncs == []


def test_an_application_message_waits_for_the_welcome_in_processing() -> None:
    w = World()
    c = Client(w)
    c.result = "decrypted"
    state = State()
    join_job(w, c, state)
    receiving.application(c, "g", "msg")
    w.processing.next()
    w.processing.next()
    assert c.seen == [("g", state, "msg")]
    assert w.recorder.counts[("app_received", "g")] == 1
    assert not [e for e in w.recorder.events if e[0] == "app_not_member"]
    # with no job queued it is not a member's message: counted as such, as before
    w2 = World()
    c2 = Client(w2)
    receiving.application(c2, "g", "msg")
    assert [e[0] for e in w2.recorder.events] == ["app_not_member"] and c2.seen == []
