"""The network and the federation's providers: link classes with their latency, bandwidth and
loss, and the domains that each run one delivery service and one authentication service.

What the world looks like before any group exists; kept together because a link class is
defined by the provider services it joins.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer, model_validator

from .schema_base import _Model
from .schema_distributions import Distribution, _const

__all__ = ["LinkSpec", "NetworkSpec", "ProviderSpec", "DEFAULT_LATENCY"]


class LinkSpec(_Model):
    """One class of network link."""

    latency: Distribution = Field(default_factory=lambda: _const(0.05), description="one-way latency (s)")
    bandwidth: float | None = Field(
        default=None, gt=0, description="link rate in bits/s; adds serialization delay and FIFO queueing"
    )
    loss: float = Field(default=0.0, ge=0, lt=1, description="probability that a transmission is lost")
    retransmit_timeout: float = Field(default=1.0, gt=0, description="resend after this long when lost (s)")


#: one-way latency of each link class when a scenario does not give one (s)
DEFAULT_LATENCY = {"client_ds": 0.05, "ds_ds": 0.03, "ds_as": 0.002}


class NetworkSpec(_Model):
    """Link classes: client↔home DS, DS↔DS between providers, DS↔AS. A class given without a
    latency keeps its class's default latency (50 ms, 30 ms and 2 ms constant)."""

    @model_validator(mode="before")
    @classmethod
    def _class_latency(cls, data: object) -> object:
        if isinstance(data, dict):
            data = dict(data)
            for name, value in data.items():
                if name in DEFAULT_LATENCY and isinstance(value, dict) and "latency" not in value:
                    data[name] = {**value, "latency": {"dist": "constant", "value": DEFAULT_LATENCY[name]}}
        return data

    client_ds: LinkSpec = Field(
        default_factory=lambda: LinkSpec(latency=_const(DEFAULT_LATENCY["client_ds"])),
        description="a client and its home delivery service",
    )
    ds_ds: LinkSpec = Field(
        default_factory=lambda: LinkSpec(latency=_const(DEFAULT_LATENCY["ds_ds"])),
        description=(
            "delivery services of two providers; when both providers have a ``region``, the region "
            "matrix's latency replaces this latency for their link (bandwidth and loss stay)"
        ),
    )
    ds_as: LinkSpec = Field(
        default_factory=lambda: LinkSpec(latency=_const(DEFAULT_LATENCY["ds_as"])),
        description="a delivery service and an authentication service",
    )


class ProviderSpec(_Model):
    """A domain running one delivery service (DS) and one authentication service (AS)."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$", description="provider name")
    mailbox_retention: float = Field(
        default=86400.0, gt=0, description="how long the DS keeps messages for an offline client (s)"
    )
    region: str | None = Field(
        default=None,
        description=(
            "where the provider's DS runs: a region of the shipped latency matrix "
            "(mlssim/scenario/region_latency.json: AWS regions such as us-east-1, eu-west-1). "
            "Precedence: a DS–DS link whose two providers both have a region takes the matrix's "
            "latency for that pair; any other link takes network.ds_ds.latency. Absent everywhere: "
            "nothing changes"
        ),
    )

    @model_serializer(mode="wrap")
    def _without_absent_region(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Without a region the provider dumps as before the key existed (run keys unchanged)."""
        data: dict[str, Any] = handler(self)
        if self.region is None:
            data.pop("region", None)
        return data
