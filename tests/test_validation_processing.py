"""Validation of processing time and access links against the collision closed form (issue 19).

The setting of ``tests/test_validation_collisions.py`` (one provider, ``single`` ordering, a group
of 8, empty path commits as a Poisson process of rate λ per group, no retries, constant one-way
latency L), now with ``hardware.processing_time: on`` and every client on one profile whose
access link has rates B_up and B_down and latency L. A commit C2 collides with a commit C1 the DS
accepted at time a iff C2 was built on the old epoch and reached the DS after a. Its member
builds on the old epoch iff it starts building before C1 reaches it, at a + S/B_down + L (a client
handles one job at a time, and processing C1 moves it to the new epoch); C2 then reaches the DS
c_create + S/B_up + L after the member started building it. So C2 collides iff its start falls in
a window of length

    w = 2L + c_create + S/B_up + S/B_down

(derivation in docs/validation.md, "Commit collisions with processing time and access links"),
where S is the commit's size and c_create the time to build it (counted work × calibrated cost ×
the profile's cpu_factor); processing the commit (c_process) moves convergence, not the window.
The DS is the same non-paralyzable dead-time counter, so the rejected fraction is λw/(1+λw).
The test takes c_create and S as the run's own means (``processing`` and ``commit_sent`` events)
and checks the closed form against a 99.9 % Student-t interval over 20 short replications;
each replication also checks, commit by commit, that every upload and download took exactly its
serialization time plus L when its link was idle.

With the DS a queue (``hardware.ds``, ``sim/ds_processing.py``) C1 is ordered when the DS takes
it, q after it arrived (q: its wait behind earlier jobs), and its fan-out leaves d later (d: the
job's counted work × calibration × the DS's cpu_factor). C2 still collides iff it arrives after
C1 did (the queue is first in, first out), but C1 now reaches B at a + q + d + S/B_down + L, so

    w = 2L + c_create + S/B_up + S/B_down + q + d

(q and d as the run's means over accepted commits, ``ds_processing`` events).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from mlssim.scenario.schema import Scenario
from mlssim.sim.world import World

from .test_validation_collisions import confidence_interval, rejection_formula

MEMBERS = 8
LATENCY = 0.05
UP_MBPS, DOWN_MBPS = 0.1, 0.2
CPU_FACTOR = 40.0
EPS = 2e-6


#: the DS's cpu_factor in the DS case: an accepted commit's job of about 2 µs on the calibration
#: machine then takes about 0.15 s, a window term as large as the others together
DS_FACTOR = 75_000.0


def scenario(lam: float, seed: int, workload_s: float, ds_factor: float | None = None) -> Scenario:
    start = 2.0
    ds = {} if ds_factor is None else {"ds": {"workers": 1, "cpu_factor": ds_factor}}
    return Scenario.model_validate(
        {
            "name": "validation-processing",
            "seed": seed,
            "duration": round(start + 5 + workload_s, 6),
            "drain": 5,
            "crypto": {"suite": 1, "family": "model"},
            "providers": [{"name": "a"}],
            "network": {"client_ds": {"latency": {"dist": "constant", "value": LATENCY}}},
            "federation": {"ordering": "single", "fanout": "plain"},
            "retry": {"max_retries": 0},
            "hardware": {
                "processing_time": True,
                "profiles": {
                    "slow": {
                        "cpu_factor": CPU_FACTOR,
                        "link": {
                            "up_mbps": UP_MBPS,
                            "down_mbps": DOWN_MBPS,
                            "latency": {"dist": "constant", "value": LATENCY},
                        },
                    }
                },
                "mix": {"clients": {"slow": 1.0}},
                **ds,
            },
            "groups": [
                {
                    "name": "g",
                    "size": MEMBERS,
                    "workload": {"update_rate": lam / MEMBERS, "update_mode": "commit", "start": start},
                }
            ],
            "output": {"transmissions": False, "events": False},
        }
    )


@dataclass(frozen=True)
class Run:
    sent: int
    rejected: int
    create_s: float
    commit_bytes: float
    link_violations: int
    converged: bool
    #: the DS case: mean wait (q) and job time (d) of an accepted commit at the DS
    ds_wait_s: float = 0.0
    ds_s: float = 0.0

    @property
    def window(self) -> float:
        return self.window_without_ds + self.ds_wait_s + self.ds_s

    @property
    def window_without_ds(self) -> float:
        return (
            2 * LATENCY
            + self.create_s
            + 8 * self.commit_bytes * (1 / (UP_MBPS * 1e6) + 1 / (DOWN_MBPS * 1e6))
        )


def run(lam: float, seed: int, workload_s: float, ds_factor: float | None = None) -> Run:
    w = World(scenario(lam, seed, workload_s, ds_factor))
    w.run()
    rec = w.recorder
    sent = [e for e in rec.of_kind("commit_sent") if e["op"] == "update"]
    verdicts = [e for e in rec.of_kind("commit_rejected")]
    creates = [e["seconds"] for e in rec.of_kind("processing") if e["op"] == "commit_create"][
        1:
    ]  # not the group's
    # links: a transmission on an idle link takes exactly 8·bytes/rate + L
    violations = 0
    busy_until: dict[tuple[str, str], float] = {}
    for t in rec.transmissions:
        if t.link != "client_ds" or t.recv_time is None:
            continue
        up = t.sender.startswith("c:")
        rate = (UP_MBPS if up else DOWN_MBPS) * 1e6
        start = max(t.send_time, busy_until.get((t.sender, t.receiver), 0.0))
        busy_until[(t.sender, t.receiver)] = start + 8 * t.bytes / rate
        violations += abs(t.recv_time - (start + 8 * t.bytes / rate + LATENCY)) > EPS
    accepted = [e for e in rec.of_kind("ds_processing") if e["op"] == "commit"][1:]  # not the group's
    return Run(
        sent=len(sent),
        rejected=len(verdicts),
        create_s=statistics.fmean(creates),
        commit_bytes=statistics.fmean(e["bytes"] for e in sent),
        link_violations=violations,
        converged=bool(w.summary()["all_converged"]),
        ds_wait_s=statistics.fmean(e["waited"] for e in accepted) if accepted else 0.0,
        ds_s=statistics.fmean(e["seconds"] for e in accepted) if accepted else 0.0,
    )


def test_links_take_their_serialization_time_and_rejections_follow_the_extended_window() -> None:
    lam, reps, workload_s = 1.25, 20, 60.0
    runs = [run(lam, seed, workload_s) for seed in range(reps)]
    for r in runs:
        assert r.link_violations == 0 and r.converged, r
    windows = [r.window for r in runs]
    w_mean = statistics.fmean(windows)
    # the terms are all there and of the sizes the scenario sets
    assert 0.015 < statistics.fmean(r.create_s for r in runs) < 0.2
    assert w_mean > 2 * LATENCY + 0.05
    est = confidence_interval([r.rejected / r.sent for r in runs], 0.999)
    closed = rejection_formula(lam * w_mean)
    assert est.contains(closed), (est, closed, w_mean)
    # and the old window (2L, no processing, no rates) is far outside
    assert not est.contains(rejection_formula(lam * 2 * LATENCY)), est


def test_with_the_ds_a_queue_rejections_follow_the_window_with_its_wait_and_work() -> None:
    """The DS term (module docstring): the closed form with q + d lies in the interval, the one
    without it does not."""
    lam, reps, workload_s = 1.25, 20, 60.0
    runs = [run(lam, seed, workload_s, DS_FACTOR) for seed in range(reps)]
    for r in runs:
        assert r.link_violations == 0 and r.converged, r
    d = statistics.fmean(r.ds_s for r in runs)
    assert 0.08 < d < 0.4, d  # the term is there, of the size DS_FACTOR sets
    est = confidence_interval([r.rejected / r.sent for r in runs], 0.999)
    closed = rejection_formula(lam * statistics.fmean(r.window for r in runs))
    assert est.contains(closed), (est, closed)
    without = rejection_formula(lam * statistics.fmean(r.window_without_ds for r in runs))
    assert not est.contains(without), (est, without)


def main() -> None:
    """``python -m tests.test_validation_processing``: the table in docs/validation.md (20
    replications of about 400 commits per λ, 95 % Student-t intervals)."""
    print("| λ (1/s) | w̄ (s) | λw̄ | rejected, measured | 95 % CI | λw̄/(1+λw̄) | old form, w = 2L |")
    print("|---|---|---|---|---|---|---|")
    for lam in (0.5, 1.25, 3.0):
        runs = [run(lam, seed, 400.0 / lam) for seed in range(20)]
        assert all(r.link_violations == 0 and r.converged for r in runs)
        w = statistics.fmean(r.window for r in runs)
        est = confidence_interval([r.rejected / r.sent for r in runs], 0.95)
        print(
            f"| {lam:g} | {w:.4f} | {lam * w:.3f} | {est.mean:.4f} | [{est.low:.4f}, {est.high:.4f}] | "
            f"{rejection_formula(lam * w):.4f} | {rejection_formula(lam * 2 * LATENCY):.4f} |"
        )
    print()
    print("With the DS a queue (cpu_factor 75,000):")
    print("| λ (1/s) | q̄ + d̄ (s) | w̄ (s) | rejected, measured | 95 % CI | λw̄/(1+λw̄) | without q + d |")
    print("|---|---|---|---|---|---|---|")
    for lam in (0.5, 1.25, 3.0):
        runs = [run(lam, seed, 400.0 / lam, DS_FACTOR) for seed in range(20)]
        assert all(r.link_violations == 0 and r.converged for r in runs)
        w = statistics.fmean(r.window for r in runs)
        w0 = statistics.fmean(r.window_without_ds for r in runs)
        est = confidence_interval([r.rejected / r.sent for r in runs], 0.95)
        print(
            f"| {lam:g} | {w - w0:.4f} | {w:.4f} | {est.mean:.4f} | [{est.low:.4f}, {est.high:.4f}] | "
            f"{rejection_formula(lam * w):.4f} | {rejection_formula(lam * w0):.4f} |"
        )


if __name__ == "__main__":
    main()
