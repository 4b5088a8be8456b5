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


def scenario(lam: float, seed: int, workload_s: float) -> Scenario:
    start = 2.0
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

    @property
    def window(self) -> float:
        return (
            2 * LATENCY
            + self.create_s
            + 8 * self.commit_bytes * (1 / (UP_MBPS * 1e6) + 1 / (DOWN_MBPS * 1e6))
        )


def run(lam: float, seed: int, workload_s: float) -> Run:
    w = World(scenario(lam, seed, workload_s))
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
    return Run(
        sent=len(sent),
        rejected=len(verdicts),
        create_s=statistics.fmean(creates),
        commit_bytes=statistics.fmean(e["bytes"] for e in sent),
        link_violations=violations,
        converged=bool(w.summary()["all_converged"]),
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


if __name__ == "__main__":
    main()
