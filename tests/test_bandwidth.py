"""Fan-out strategies in the simulator: what members download per commit (issue 7)."""

from __future__ import annotations

import statistics
from typing import Any

import pytest

from mlssim.scenario.schema import Scenario
from mlssim.sim.world import World


def scenario(fanout: str, workload: dict[str, float] | None = None, **mls: Any) -> Scenario:
    return Scenario.model_validate(
        {
            "name": "bw",
            "seed": 9,
            "duration": 60,
            "drain": 20,
            "crypto": {"suite": 1, "family": "model"},
            "mls": mls,
            "providers": [{"name": "a"}, {"name": "b"}],
            "federation": {"fanout": fanout},
            "groups": [
                {
                    "size": 60,
                    "workload": workload or {"update_rate": 0.005, "add_rate": 0.05, "remove_rate": 0.02},
                }
            ],
        }
    )


def commit_downloads(w: World) -> list[int]:
    return [t.bytes for t in w.recorder.transmissions if t.msg_type == "commit" and t.role == "download"]


def commit_uploads(w: World) -> list[int]:
    """Each commit upload on the wire (the commit or SplitCommit, Welcome and public state)."""
    return [
        t.bytes for t in w.recorder.transmissions if t.msg_type.startswith("commit:") and t.role == "upload"
    ]


def sent_totals(w: World) -> list[int]:
    """What each ``commit_sent`` event says its committer uploads, from the encoded messages."""
    return [
        e["upload_bytes"] + e["welcome_bytes"] + e["public_state_bytes"]
        for e in w.recorder.of_kind("commit_sent")
    ]


def test_split_downloads_are_a_fraction_of_plain_on_the_same_run() -> None:
    plain, split = World(scenario("plain")), World(scenario("split"))
    plain.run()
    split.run()
    for w in (plain, split):
        s = w.summary()
        assert s["all_converged"]
        # the record holds one upload per sent commit, of exactly the size its messages encode to
        assert sorted(commit_uploads(w)) == sorted(sent_totals(w))
        # the summary's per-commit means are the means over the record
        assert s["commits"]["download_bytes_mean"] == round(statistics.fmean(commit_downloads(w)), 3)
        assert s["commits"]["upload_bytes_mean"] == round(statistics.fmean(sent_totals(w)), 3)
        # and a client's downloads are what the DSs delivered it over its link
        delivered = [
            t.bytes
            for t in w.recorder.transmissions
            if t.link == "client_ds" and t.sender.startswith("ds:") and not t.lost
        ]
        assert s["client_download_bytes"]["total"] == sum(delivered)
    # plain fan-out: each member downloads the very commit its committer sent
    assert set(commit_downloads(plain)) <= {e["bytes"] for e in plain.recorder.of_kind("commit_sent")}
    # same workload, same commits: only the sizes differ
    p, s = commit_downloads(plain), commit_downloads(split)
    assert len(p) == len(s) > 100
    assert sum(s) < 0.5 * sum(p)
    assert all(b_s <= b_p + 40 for b_s, b_p in zip(sorted(s), sorted(p), strict=True))
    # the upload is the SCommit itself (draft-mularczyk-mls-splitcommit §3), commit for commit 5
    # bytes more than the plain commit of the same run: the SCommit's own MLSMessage header (4) and
    # the SHeader's optional LeafNode (1); the epoch_identifier takes the confirmation tag's 1 + 32
    sent, plain_sent = (
        list(split.recorder.of_kind("commit_sent")),
        list(plain.recorder.of_kind("commit_sent")),
    )
    assert len(sent) == len(plain_sent) > 20
    assert all(e["upload_bytes"] == e["bytes"] for e in sent)
    assert [e["bytes"] - f["bytes"] for e, f in zip(sent, plain_sent, strict=True)] == [5] * len(sent)


def test_split_needs_a_ds_that_can_read_the_commit() -> None:
    with pytest.raises(ValueError, match="split needs"):
        scenario("split", handshake="private")


def test_split_members_process_their_individual_commits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under ``split`` every member processes the IndividualCommit the DS built for it (a removed
    member the header alone), never the SCommit, and downloads exactly its encoding; the DS's
    ``ds_split`` events add up to those downloads, commit by commit."""
    from mlssim.mls.codec import encode
    from mlssim.mls.messages import IndividualCommit
    from mlssim.sim.client import Client

    processed: list[tuple[str, int, bool]] = []
    original = Client.process_commit

    def spy(self: Client, group: str, msg: Any) -> None:
        assert isinstance(msg.body, IndividualCommit), type(msg.body).__name__
        processed.append((self.name, len(encode(msg)), msg.body.path is None))
        original(self, group, msg)

    monkeypatch.setattr(Client, "process_commit", spy)
    w = World(scenario("split", {"update_rate": 0.005, "add_rate": 0.05, "remove_rate": 0.1}))
    w.run()
    assert w.summary()["all_converged"]
    removed = {e["client"] for e in w.recorder.of_kind("removed")}
    assert len(removed) >= 3
    # every path commit here reaches members with a path; only removed members get a bare header
    assert {name for name, _, header_only in processed if header_only} == removed
    # each download on the record is the size of the message its recipient processed
    assert sorted(size for _, size, _ in processed) == sorted(commit_downloads(w))
    # the DS built one IndividualCommit per member left in the group, of exactly those bytes
    splits = list(w.recorder.of_kind("ds_split"))
    assert len(splits) == len(list(w.recorder.of_kind("commit_accepted")))
    kept = [size for _, size, header_only in processed if not header_only]
    assert sum(e["downloads"] for e in splits) == len(kept)
    assert sum(e["bytes"] for e in splits) == sum(kept)
