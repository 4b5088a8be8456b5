"""Hardware profiles: how fast a client computes and what its access link carries (issue 19).

"Devices" already means a user's devices (``population``), so the kinds of machine are
*profiles*: a ``cpu_factor`` (a primitive costs its calibrated time × the factor) and an
access link that, once the simulator reads it, replaces ``network.client_ds`` for the clients
given that profile. A mix assigns profiles to clients (``sim/processing.py`` reads this
section); without it nothing changes.

Where the built-in profiles come from (stated here, next to the numbers):

* **phone** link — Ookla Speedtest Global Index, global *median* mobile speeds. Download
  29 Mbit/s: November 2021, as reported by DataReportal, "Digital 2022: Internet connection
  speeds accelerate" (January 2022). Upload 9 Mbit/s: the index's global *mean* mobile
  upload/download ratio of September 2020 (11.22 / 35.96 Mbit/s, reported by
  my-financial-wealth.com, 2020-10-25) applied to that median, since no stored source gives
  the median upload. Latency: Ookla's global median mobile latency of 28 ms (November 2022,
  RCR Wireless News, 2023-01-05), a round trip to the nearest test server, so one way 14 ms.
* **laptop** link — fixed broadband, same sources: download 58 Mbit/s (median, November
  2021), upload 31 Mbit/s (the September 2020 mean ratio 45.74 / 85.73), latency 10 ms round
  trip (median, November 2022), one way 5 ms.
* **server** link — no measurement: an assumption of 1 Gbit/s each way and 1 ms one way
  (a client in a data centre, e.g. a bot or a bridge).

Speed-test latency is to a nearby server, so it understates the path to a provider's DS:
a scenario that cares should give its own. CPU factors are assumptions, not measurements (no
stored source compares a phone's crypto speed with the calibration machine): a mid-range
phone core 4× slower than the machine of ``mlssim/calibration/default.json`` (a server core),
a laptop 1.5×, a server 1×. Measure with ``mlssim calibrate`` on the device when it matters.

A delivery service is a queue too when ``ds`` is given (``sim/ds_processing.py``): ``workers``
servers per DS, each job priced with the DS's ``cpu_factor`` — one precedence rule: ``ds.cpu_factor``
when given, else the ``server`` profile's. ``kem_cost: native`` prices the post-quantum KEMs at
published native numbers (``mlssim/calibration/native_pq.py``) instead of this project's ML-KEM.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, SerializerFunctionWrapHandler, field_validator, model_serializer, model_validator

from .schema_base import _Model
from .schema_distributions import Distribution, _const

__all__ = ["AccessLink", "DSCapacity", "HardwareProfile", "HardwareMix", "HardwareSpec", "DEFAULT_PROFILES"]

_NAME = r"^[A-Za-z0-9_.-]+$"


class AccessLink(_Model):
    """A client's access link: rates each way and one-way latency to its home DS."""

    up_mbps: float = Field(gt=0, description="uplink rate, client → DS (Mbit/s)")
    down_mbps: float = Field(gt=0, description="downlink rate, DS → client (Mbit/s)")
    latency: Distribution = Field(default_factory=lambda: _const(0.05), description="one-way latency (s)")


class HardwareProfile(_Model):
    """A kind of machine a client runs on."""

    cpu_factor: float = Field(
        gt=0,
        description="processing time relative to the calibration's machine (2 = twice as slow)",
    )
    link: AccessLink | None = Field(
        default=None, description="access link; null: the client uses network.client_ds"
    )


def _profile(cpu: float, up: float, down: float, one_way: float) -> HardwareProfile:
    return HardwareProfile(
        cpu_factor=cpu, link=AccessLink(up_mbps=up, down_mbps=down, latency=_const(one_way))
    )


#: the built-in profiles; sources and assumptions in this module's docstring
DEFAULT_PROFILES: dict[str, HardwareProfile] = {
    "phone": _profile(4.0, 9.0, 29.0, 0.014),
    "laptop": _profile(1.5, 31.0, 58.0, 0.005),
    "server": _profile(1.0, 1000.0, 1000.0, 0.001),
}


def _weights(v: dict[str, float] | None) -> dict[str, float] | None:
    if v is not None:
        if not v:
            raise ValueError("an empty mix")
        if any(w < 0 for w in v.values()) or sum(v.values()) <= 0:
            raise ValueError("weights must be ≥ 0 with a positive sum")
    return v


class HardwareMix(_Model):
    """Which profile each client gets, drawn by weight: a population device takes
    ``population`` if given, else every client takes its home provider's entry in
    ``providers`` if given, else ``clients``."""

    clients: dict[str, float] = Field(
        default_factory=lambda: {"phone": 1.0}, description="profile name → weight, for every client"
    )
    providers: dict[str, dict[str, float]] = Field(
        default_factory=dict,
        description="provider name → (profile name → weight), for the clients of that home provider",
    )
    population: dict[str, float] | None = Field(
        default=None, description="profile name → weight, for the devices of population users"
    )

    @field_validator("clients", "population")
    @classmethod
    def _mix(cls, v: dict[str, float] | None) -> dict[str, float] | None:
        return _weights(v)

    @field_validator("providers")
    @classmethod
    def _provider_mixes(cls, v: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        for mix in v.values():
            _weights(mix)
        return v


class DSCapacity(_Model):
    """Every DS's processing capacity (with processing_time on): the DS is a queue of jobs —
    each message it orders, its fan-out built and copied — served by ``workers`` in parallel
    (docs/model.md). One precedence rule: a DS computes at ``cpu_factor`` when given, else at
    the ``server`` profile's (``hardware.profiles.server``, built in at 1); ``mix`` never
    applies to a DS."""

    workers: int = Field(default=1, ge=1, description="jobs a DS handles at once (servers of its queue)")
    cpu_factor: float | None = Field(
        default=None,
        gt=0,
        allow_inf_nan=False,
        description=(
            "a DS's processing time relative to the calibration's machine; null: the `server` "
            "profile's cpu_factor"
        ),
    )


class HardwareSpec(_Model):
    """Processing time and access links by hardware profile: a profile's link replaces
    network.client_ds for its clients; with processing_time on, each client is a queue whose
    jobs take their counted work × calibrated cost × cpu_factor (docs/model.md)."""

    processing_time: bool = Field(
        default=False,
        description=(
            "on: a client is busy for the counted work of each operation × calibrated cost × its "
            "profile's cpu_factor (off: processing takes no simulated time)"
        ),
    )
    calibration: str = Field(
        default="default",
        min_length=1,
        description=(
            "costs per primitive: `default` (the shipped mlssim/calibration/default.json) or a file "
            "made by `mlssim calibrate`, relative to the scenario file"
        ),
    )
    profiles: dict[str, HardwareProfile] = Field(
        default_factory=lambda: dict(DEFAULT_PROFILES),
        description=(
            "profile name → profile; the built-in phone, laptop and server are kept unless given "
            "here under the same name (which replaces them)"
        ),
    )
    mix: HardwareMix = Field(default_factory=HardwareMix, description="which client gets which profile")
    ds: DSCapacity | None = Field(
        default=None,
        description=(
            "with processing_time on: every DS is a queue whose jobs (ordering a message, building "
            "and copying its fan-out) take counted work × calibrated cost × its cpu_factor; null: "
            "a DS's work takes no time"
        ),
    )
    kem_cost: Literal["measured", "native"] = Field(
        default="measured",
        description=(
            "post-quantum suites' KEM cost: `measured` (the calibration, this project's pure-Python "
            "ML-KEM encapsulation) or `native` (published native ML-KEM plus the curve half timed "
            "on the calibration machine; mlssim/calibration/native_pq.py)"
        ),
    )

    @model_serializer(mode="wrap")
    def _without_absent(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Without ``ds`` and with the measured KEM cost the section dumps exactly as before the
        keys existed (run keys and saved scenario.json unchanged)."""
        data: dict[str, Any] = handler(self)
        if self.ds is None:
            data.pop("ds", None)
        if self.kem_cost == "measured":
            data.pop("kem_cost", None)
        return data

    def ds_cpu_factor(self) -> float:
        """The precedence rule: ``ds.cpu_factor`` when given, else the ``server`` profile's."""
        if self.ds is not None and self.ds.cpu_factor is not None:
            return self.ds.cpu_factor
        return self.profiles["server"].cpu_factor

    @field_validator("profiles", mode="before")
    @classmethod
    def _with_builtins(cls, v: Any) -> Any:
        if isinstance(v, dict):
            return {**DEFAULT_PROFILES, **v}
        return v

    @field_validator("profiles")
    @classmethod
    def _names(cls, v: dict[str, HardwareProfile]) -> dict[str, HardwareProfile]:
        bad = [n for n in v if not re.match(_NAME, n)]
        if bad:
            raise ValueError(f"profile names match {_NAME}: {', '.join(map(repr, bad))}")
        return v

    @model_validator(mode="after")
    def _known_profiles(self) -> HardwareSpec:
        """Every profile a mix names exists (checked here, where both are seen)."""
        known = ", ".join(self.profiles)
        mixes: list[tuple[str, dict[str, float]]] = [("mix.clients", self.mix.clients)]
        mixes += [(f"mix.providers.{p}", m) for p, m in self.mix.providers.items()]
        if self.mix.population is not None:
            mixes.append(("mix.population", self.mix.population))
        for where, mix in mixes:
            for name in mix:
                if name not in self.profiles:
                    raise ValueError(f"{where}: unknown profile {name!r} (known: {known})")
        return self
