"""The distribution forms a scenario value may take, and their tagged union ``Distribution``.

Latencies and message sizes are drawn from these (``mlssim.sim.distributions`` builds the
samplers); every form names itself in ``dist`` so pydantic picks the model by tag and an error
names the form the user meant. ``_const`` is how the other sections write a constant default.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from .schema_base import _Model

__all__ = ["Constant", "Uniform", "Normal", "LogNormal", "Exponential", "Empirical", "Distribution"]


class Constant(_Model):
    """Always the same value."""

    dist: Literal["constant"] = "constant"
    value: float = Field(ge=0, description="the value")


class Uniform(_Model):
    """Uniform on [low, high]."""

    dist: Literal["uniform"]
    low: float = Field(ge=0, description="lower bound")
    high: float = Field(ge=0, description="upper bound (≥ low)")

    @model_validator(mode="after")
    def _order(self) -> Uniform:
        if self.high < self.low:
            raise ValueError("high must be ≥ low")
        return self


class Normal(_Model):
    """Normal, truncated at 0 (negative draws are redrawn)."""

    dist: Literal["normal"]
    mean: float = Field(description="mean before truncation")
    std: float = Field(ge=0, description="standard deviation before truncation")


class LogNormal(_Model):
    """Log-normal given by its median and the σ of the underlying normal."""

    dist: Literal["lognormal"]
    median: float = Field(gt=0, description="median")
    sigma: float = Field(ge=0, description="σ of log(x)")


class Exponential(_Model):
    """Exponential with the given mean."""

    dist: Literal["exponential"]
    mean: float = Field(gt=0, description="mean")


class Empirical(_Model):
    """Draws uniformly from samples in a CSV file (one number per line, or a first column)."""

    dist: Literal["empirical"]
    file: str = Field(description="CSV of samples, relative to the scenario file")


Distribution = Annotated[
    Constant | Uniform | Normal | LogNormal | Exponential | Empirical, Field(discriminator="dist")
]


def _const(v: float) -> Constant:
    return Constant(value=v)
