"""Protocol choices: cipher suite, the MLS options RFC 9420 leaves to the application, how a
federated group is ordered and fanned out, who commits proposals, and how a rejected commit
is retried.

These decide what goes on the wire and who sends it, as opposed to what the users do
(``schema_groups``) or what the network is (``schema_network``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from .schema_base import _Model

__all__ = ["CryptoSpec", "MLSSpec", "FederationSpec", "CommitPolicySpec", "RetrySpec"]


class CryptoSpec(_Model):
    """Which RFC 9420 cipher suite the clients use, real or its fast model twin."""

    suite: int = Field(
        default=1,
        description=(
            "cipher suite id: RFC 9420 suites 1–7, or 0xF001–0xF00B for the post-quantum suites of "
            "draft-ietf-mls-pq-ciphersuites (docs/pq-suites.md)"
        ),
    )
    family: Literal["real", "model"] = Field(
        default="real", description="real cryptography, or the model twin with identical sizes"
    )

    @field_validator("suite")
    @classmethod
    def _known_suite(cls, suite: int) -> int:
        from ..mls.crypto import suite_ids

        if suite not in suite_ids():
            raise ValueError(f"unknown cipher suite {suite}; known: {', '.join(map(str, suite_ids()))}")
        return suite

    @field_validator("family")
    @classmethod
    def _suite_in_family(cls, family: str, info: ValidationInfo) -> str:
        from ..mls.crypto import suite_available

        suite = info.data.get("suite")
        if suite is not None and not suite_available(suite, family):
            raise ValueError(f"cipher suite {suite} has no {family!r} implementation; use family: model")
        return family


class MLSSpec(_Model):
    """Application choices that RFC 9420 leaves open."""

    handshake: Literal["public", "private"] = Field(
        default="public",
        description="wire format of proposals and commits (PublicMessage lets a DS read them)",
    )
    ratchet_tree_in_welcome: bool = Field(
        default=True, description="Welcome carries the ratchet tree; else joiners download it from the DS"
    )
    padding: int = Field(default=0, ge=0, description="zero bytes added to every PrivateMessage plaintext")
    keep_past_epochs: int = Field(
        default=1,
        ge=0,
        description="past epochs whose keys a member keeps to decrypt late application messages (§15.2)",
    )


class FederationSpec(_Model):
    """How a group spanning providers is ordered and fanned out."""

    ordering: Literal["single", "hub", "client-fanout", "decentralised"] = Field(
        default="hub",
        description=(
            "who orders a group's handshake messages: single = one DS (``orderer``) for every group; "
            "hub = the DS of the group's owning provider (MIMI); client-fanout = the sender uploads "
            "to every provider and each delivers in its own arrival order; decentralised = no "
            "orderer. The last two let members diverge; forks are resolved by the lowest commit "
            "hash (docs/federation.md)"
        ),
    )
    orderer: str | None = Field(
        default=None, description="the provider whose DS orders every group under single; default: the first"
    )
    topology: Literal["server", "client-per-provider", "client-per-member"] | None = Field(
        default=None,
        description=(
            "who sends the copies: server = the sender uploads once and DSs forward one copy per "
            "provider; client-per-provider / client-per-member = the sender uploads one copy per "
            "provider / per member. Default: client-per-provider under client-fanout, else server; "
            "single and hub need server"
        ),
    )
    acks: bool = Field(
        default=False, description="members acknowledge every epoch they reach to their home DS"
    )
    resync: Literal["external-commit", "readd", "none"] = Field(
        default="external-commit",
        description=(
            "how a member that cannot follow the group (messages expired in its mailbox, a commit it "
            "cannot process) gets back: it NACKs, then rejoins by external commit (replacing its old "
            "leaf), or the designated committer removes and re-adds it; ordered designs only"
        ),
    )
    fanout: Literal["plain", "split", "pre", "pre-join-store"] = Field(
        default="plain",
        description=(
            "what each member downloads for a commit: plain = the whole commit; split = "
            "draft-mularczyk-mls-splitcommit: the committer sends an SCommit and the ordering DS "
            "gives each member its IndividualCommit (its own HPKE ciphertext and the public keys it "
            "cannot derive), which the member processes (needs public handshakes and single or hub "
            "ordering); pre = the split draft with path secrets sealed by proxy re-encryption: the "
            "committer encrypts each path secret once under its own PRE key and the ordering DS "
            "re-encrypts it for each member with re-encryption keys the members deposited (needs what "
            "split needs); pre-join-store = plain commits, and the DS also keeps the group's node "
            "secrets under proxy re-encryption, re-encrypting them every epoch, for joins from a small "
            "secret (join_mode: pre). All but plain need server topology (docs/bandwidth.md)"
        ),
    )
    pre_key_refresh: Literal["never", "own-commit"] = Field(
        default="never",
        description=(
            "fanout pre only: when a member's PRE keys change (each change makes it deposit a "
            "re-encryption key to every other member and every other member deposit one to it): never "
            "(the keys of its join), or own-commit (new keys with each of its own path commits)"
        ),
    )


class CommitPolicySpec(_Model):
    """Who commits other members' proposals (``workload.update_mode: propose``), and when."""

    committer: Literal["lowest-leaf", "lowest-online-leaf", "random"] = Field(
        default="lowest-leaf",
        description=(
            "the designated committer: the lowest leaf index other than the proposer's, or the lowest "
            "among members online and caught up (the DS tells, as it knows who is connected), or a "
            "member other than the proposer drawn from the proposal's reference (every member draws "
            "the same one; the random committers of groups[].steady_state's history)"
        ),
    )
    lazy_timer: float = Field(
        default=0.0, ge=0, description="wait this long after a proposal before committing (s); 0 = at once"
    )
    lazy_batch: int = Field(
        default=1, ge=1, description="commit at once when this many proposals are pending (with lazy_timer)"
    )


class RetrySpec(_Model):
    """What a committer does when the DS rejects its commit (another commit won the epoch)."""

    backoff: Literal["none", "fixed", "exponential"] = Field(default="fixed", description="backoff rule")
    delay: float = Field(default=0.5, ge=0, description="fixed delay, or the first delay of exponential (s)")
    jitter: bool = Field(default=True, description="multiply each delay by a uniform draw in [0.5, 1.5]")
    max_retries: int = Field(default=10, ge=0, description="give up after this many retries")
