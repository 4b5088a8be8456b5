"""An independent check of the DS's rule with unequal windows (issue 18, item 6).

Members of two classes sit at different distances from the orderer: ``near`` at the ordering
provider (client↔DS latency L1 each way), ``far`` at another provider (L1 + L2 each way, the
DS–DS hop added). Their commits race for each epoch, and the far class loses more often. The
engine's per-class rejection rates are compared with a direct Monte Carlo of the DS rule —
"the first commit built on the current epoch wins; a member builds on the last epoch it has
heard of" — written here in a few dozen lines with a heap, no simpy and no MLS. Both use the same
workload rule (Poisson updates at rate λ per member, each event picks a uniform member among those
not waiting for a verdict) and no retries (``retry.max_retries: 0``). Agreement is judged with
Student-t intervals over independent replications of each side.
"""

from __future__ import annotations

import heapq
import math
import random
import statistics

from mlssim.scenario.schema import Scenario
from mlssim.sim.world import World

L1, L2 = 0.05, 0.4  # client↔DS and DS↔DS one-way latency (s)
MEMBERS, RATE = 16, 0.03  # members, updates per member per second
WARM, T = 20.0, 600.0  # the workload's start and the end of counting (s)
T975_9 = 2.262  # Student t, two-sided 95 %, 9 degrees of freedom


def engine(seed: int) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """One run: commits sent and rejected per class, and the class sizes."""
    scenario = Scenario.model_validate(
        {
            "name": "unequal-windows",
            "seed": seed,
            "duration": T,
            "drain": 5,
            "crypto": {"suite": 1, "family": "model"},
            "providers": [{"name": "near"}, {"name": "far"}],
            "network": {
                "client_ds": {"latency": {"dist": "constant", "value": L1}},
                "ds_ds": {"latency": {"dist": "constant", "value": L2}},
            },
            "federation": {"ordering": "single", "orderer": "near", "fanout": "plain"},
            "retry": {"max_retries": 0},
            "groups": [
                {
                    "name": "g",
                    "size": MEMBERS,
                    "providers": {"near": 1, "far": 1},
                    "workload": {"update_rate": RATE, "update_mode": "commit", "start": WARM},
                }
            ],
            "output": {"transmissions": False, "events": False},
        }
    )
    w = World(scenario)
    w.run()
    cls = {name: c.provider for name, c in w.clients.items()}
    sent = {"near": 0, "far": 0}
    rejected = {"near": 0, "far": 0}
    for e in w.recorder.of_kind("commit_sent"):
        if e["op"] == "update" and e["t"] >= 2 * WARM:
            sent[cls[e["client"]]] += 1
    first = min((e["t"] for e in w.recorder.of_kind("commit_sent") if e["t"] >= 2 * WARM), default=T)
    for e in w.recorder.of_kind("commit_rejected"):
        # a rejection at the DS belongs to a commit sent one up-link earlier
        up = L1 if cls[e["client"]] == "near" else L1 + L2
        if e["t"] - up >= first - 1e-6:
            rejected[cls[e["client"]]] += 1
    sizes = {
        "near": sum(1 for v in cls.values() if v == "near"),
        "far": sum(1 for v in cls.values() if v == "far"),
    }
    return sent, rejected, sizes


def monte_carlo(sizes: dict[str, int], rng: random.Random) -> tuple[dict[str, int], dict[str, int]]:
    """The DS rule alone, event by event (counted from 2·WARM as the engine is)."""
    one_way = {"near": L1, "far": L1 + L2}
    kind = [k for k in ("near", "far") for _ in range(sizes[k])]
    n = len(kind)
    view, busy, epoch = [1] * n, [False] * n, 1
    sent = {"near": 0, "far": 0}
    rejected = {"near": 0, "far": 0}
    heap: list[tuple[float, int, str, int, int]] = []
    seq = 0

    def push(t: float, what: str, i: int, e: int = 0) -> None:
        nonlocal seq
        heapq.heappush(heap, (t, seq, what, i, e))
        seq += 1

    t = WARM + rng.expovariate(RATE * n)
    push(t, "arrival", -1)
    while heap:
        t, _, what, i, e = heapq.heappop(heap)
        if t >= T:
            break
        if what == "arrival":
            free = [j for j in range(n) if not busy[j]]
            if free:
                j = free[rng.randrange(len(free))]
                busy[j] = True
                counted = int(t >= 2 * WARM)
                sent[kind[j]] += counted
                push(t + one_way[kind[j]], "at_ds", j, view[j] * 2 + counted)
            push(t + rng.expovariate(RATE * n), "arrival", -1)
        elif what == "at_ds":
            built, was_counted = divmod(e, 2)
            if built == epoch:
                epoch += 1
                for j in range(n):  # the commit reaches every member (and its verdict the sender)
                    push(t + one_way[kind[j]], "learn", j, epoch)
            else:
                rejected[kind[i]] += was_counted
            push(t + one_way[kind[i]], "verdict", i)
        elif what == "learn":
            view[i] = max(view[i], e)
        else:  # verdict: the member may act again (no retries)
            busy[i] = False
    return sent, rejected


def mean_se(xs: list[float]) -> tuple[float, float]:
    return statistics.fmean(xs), statistics.stdev(xs) / math.sqrt(len(xs))


def test_far_members_lose_more_and_the_engine_matches_the_ds_rule() -> None:
    """10 engine runs (each its own placement of members) against 4 Monte Carlo runs of the
    same placement each. Measured: near 3.7 % vs 3.8 %, far 33.1 % vs 32.6 %."""
    runs = [engine(seed) for seed in range(10)]
    rng = random.Random(2026)
    mc = [monte_carlo(sizes, rng) for _, _, sizes in runs for _ in range(4)]
    rates = {}
    for k in ("near", "far"):
        m_e, se_e = mean_se([rej[k] / snt[k] for snt, rej, _ in runs])
        m_m, se_m = mean_se([rej[k] / snt[k] for snt, rej in mc])
        # the difference of the means is within its 95 % interval (t with 9 degrees of freedom,
        # the smaller sample's: conservative)
        assert abs(m_e - m_m) <= T975_9 * math.hypot(se_e, se_m), (k, m_e, se_e, m_m, se_m)
        rates[k] = m_e
    assert rates["far"] > 3 * rates["near"] > 0  # the far class's window is longer: it loses more
