"""The network's batched path and the columnar record: the same draws, records and arrivals as
one ``send`` per transmission, and a record that reads back as rows."""

from __future__ import annotations

import csv
import math
import random
from pathlib import Path
from typing import Any

import pytest
import simpy

from mlssim.scenario.schema import (
    Constant,
    Distribution,
    Exponential,
    LinkSpec,
    LogNormal,
    NetworkSpec,
    Normal,
    Uniform,
)
from mlssim.sim.distributions import sampler, sampler_many
from mlssim.sim.network import Network
from mlssim.sim.recorder import TRANSMISSION_FIELDS, Recorder
from mlssim.sim.rng import Streams


def _spec(loss: float, bandwidth: float | None, latency: Distribution) -> NetworkSpec:
    return NetworkSpec(
        client_ds=LinkSpec(latency=latency, loss=loss, bandwidth=bandwidth, retransmit_timeout=0.3),
        ds_ds=LinkSpec(latency=Constant(dist="constant", value=0.01)),
    )


def _traffic(batched: bool, spec: NetworkSpec) -> tuple[Recorder, list[tuple[float, str, int]]]:
    """Three fan-outs from one DS (the second overlapping the first on the same links), sent
    either with ``send_many`` or one ``send`` each; returns the record and every arrival as
    (time, receiver, fan-out number) in the order they happened."""
    env = simpy.Environment()
    rec = Recorder()
    net = Network(env, Streams(3), spec, rec)
    arrivals: list[tuple[float, str, int]] = []

    def fan_out(k: int, dsts: list[str]) -> None:
        sizes = [100 + 37 * i * (k + 1) for i in range(len(dsts))]
        calls = [lambda d=d: arrivals.append((env.now, d, k)) for d in dsts]
        if batched:
            net.send_many(
                "ds:a", dsts, "client_ds", sizes, role="download", msg_type="m", group="g", on_receive=calls
            )
        else:
            for d, size, cb in zip(dsts, sizes, calls, strict=True):
                net.send(
                    "ds:a", d, "client_ds", size, role="download", msg_type="m", group="g", on_receive=cb
                )

    clients = [f"c:{i}" for i in range(12)]
    fan_out(0, clients)
    env.timeout(0.001).callbacks.append(lambda _e: fan_out(1, clients[::2]))
    env.timeout(0.5).callbacks.append(lambda _e: fan_out(2, clients[3:]))
    env.run()
    return rec, arrivals


@pytest.mark.parametrize(
    ("loss", "bandwidth", "latency"),
    [
        (0.0, None, LogNormal(dist="lognormal", median=0.04, sigma=0.5)),
        (0.0, 1e5, Uniform(dist="uniform", low=0.0, high=0.05)),
        (0.0, None, Constant(dist="constant", value=0.02)),  # equal arrival times: insertion order
        (0.2, 2e5, Exponential(dist="exponential", mean=0.03)),  # lossy: retransmissions
    ],
)
def test_send_many_is_sequential_sends(loss: float, bandwidth: float | None, latency: Distribution) -> None:
    spec = _spec(loss, bandwidth, latency)
    rec_one, arr_one = _traffic(False, spec)
    rec_many, arr_many = _traffic(True, spec)
    assert arr_many == arr_one
    assert len(arr_one) == 12 + 6 + 9
    assert list(rec_many.transmissions) == list(rec_one.transmissions)
    assert all(t.recv_time is not None for t in rec_one.transmissions if not t.lost)
    assert any(t.lost for t in rec_one.transmissions) == (loss > 0)
    # per link, arrivals keep send order (FIFO), even with equal or float-rounded arrival times
    for d in {d for _, d, _ in arr_one}:
        ks = [k for _, dd, k in arr_one if dd == d]
        assert ks == sorted(ks)


@pytest.mark.parametrize(
    "dist",
    [
        Constant(dist="constant", value=0.25),
        LogNormal(dist="lognormal", median=0.04, sigma=0.5),
        LogNormal(dist="lognormal", median=0.04, sigma=0.0),
        Uniform(dist="uniform", low=0.01, high=0.09),
        Exponential(dist="exponential", mean=0.05),
        Normal(dist="normal", mean=0.003, std=0.001),
    ],
)
def test_sampler_many_draws_what_sampler_draws(dist: Distribution) -> None:
    one, many = sampler(dist), sampler_many(dist)
    a, b = random.Random(9), random.Random(9)
    expected = [one(a) for _ in range(50)]
    assert many(b, 20) + many(b, 30) == expected
    assert a.random() == b.random()  # both streams are left in the same state


def test_lognormal_batch_is_gauss_call_for_call() -> None:
    """The inlined Box-Muller of ``sampler_many`` (lognormal) keeps ``Random.gauss``'s spare
    normal across batches of odd sizes and single draws in between, bit for bit."""
    dist = LogNormal(dist="lognormal", median=0.04, sigma=0.5)
    one, many = sampler(dist), sampler_many(dist)
    a, b = random.Random(5), random.Random(5)
    got: list[float] = []
    for k in (1, 3, 0, 7, 2, 5):
        got += many(b, k)
        got.append(one(b))  # a single draw between batches takes the spare one
    expected = [0.04 * math.exp(a.gauss(0.0, 0.5)) for _ in range(len(got))]
    assert got == expected
    assert a.gauss(0.0, 1.0) == b.gauss(0.0, 1.0)  # the spare normal is left as gauss leaves it
    assert a.random() == b.random()


def test_record_reads_back_as_rows(tmp_path: Path) -> None:
    rec = Recorder()
    first = rec.transmit(0.5, "c:x", "ds:a", "client_ds", "upload", "application", "g", 210)
    batch = rec.transmit_many(
        0.75, "ds:a", ["c:y", "c:z"], "client_ds", "download", "application", "g", [7, 9]
    )
    lost = rec.transmit(1.0, "ds:a", "ds:b", "ds_ds", "fanout", "commit", "g", 300, lost=True)
    rec.recv_time[first] = 0.625
    rec.recv_time[batch + 1] = 1.125
    log = rec.transmissions
    assert (first, batch, lost) == (0, 1, 3)
    assert len(log) == 4
    assert [t.id for t in log] == [0, 1, 2, 3]
    assert log[-1] == log[3]
    assert log[1:3] == [log[1], log[2]]
    with pytest.raises(IndexError):
        log[4]
    t = log[2]
    assert (t.send_time, t.sender, t.receiver, t.bytes, t.recv_time, t.lost) == (
        0.75,
        "ds:a",
        "c:z",
        9,
        1.125,
        False,
    )
    assert log[1].recv_time is None and log[3].lost and log[3].recv_time is None
    rec.write_transmissions(tmp_path / "t.csv")
    with (tmp_path / "t.csv").open() as f:
        rows = list(csv.reader(f))
    expected: list[list[Any]] = [list(TRANSMISSION_FIELDS)] + [[str(v) for v in t.row()] for t in log]
    assert rows == expected
    assert rows[1][1:3] == ["0.500000", "0.625000"] and rows[2][2] == "" and rows[4][-1] == "1"
