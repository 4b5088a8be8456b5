"""``Recorder.of_kind`` groups events by kind once (the summary asks for dozens of kinds among
hundreds of thousands of events); it must still see every event recorded since, in order."""

from __future__ import annotations

from mlssim.sim.recorder import Recorder


def test_of_kind_sees_events_added_after_it_was_asked_and_forgets_after_a_restart() -> None:
    rec = Recorder()
    assert list(rec.of_kind("a")) == []
    rec.event(1.0, "a", n=1)
    rec.event(2.0, "b", n=2)
    rec.event(3.0, "a", n=3)
    assert [e["n"] for e in rec.of_kind("a")] == [1, 3]
    rec.event(4.0, "a", n=4)  # after the grouping: regrouped
    assert [e["n"] for e in rec.of_kind("a")] == [1, 3, 4]
    assert [e["n"] for e in rec.of_kind("b")] == [2]
    rec.restart()
    rec.event(5.0, "b", n=5)
    rec.event(6.0, "b", n=6)
    rec.event(7.0, "c", n=7)
    rec.event(8.0, "c", n=8)  # as many events as at the last grouping, none of kind a
    assert list(rec.of_kind("a")) == [] and [e["n"] for e in rec.of_kind("b")] == [5, 6]
