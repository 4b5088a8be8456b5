"""The base class of every scenario model: frozen, and strict about keys.

``extra="forbid"`` makes a misspelt key an error that names it instead of a silently ignored
value; ``frozen`` lets a validated scenario be shared by runs and hashed into a run key
without anyone changing it on the way. One class, so every ``schema_*`` module agrees.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
