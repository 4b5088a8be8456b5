"""Fuzzing every top-level decoder: only :class:`DecodeError` may escape, never an
IndexError, struct.error, RecursionError or a hang; and whatever a strict decoder accepts
must re-encode to exactly the bytes it read.

Inputs mix random bytes with mutations of real encodings taken from messages.json: bit
flips, byte overwrites, truncations, insertions, deletions, splices between seeds, and
rewrites of the length headers found while decoding each seed. The default run feeds
10,000 inputs per decoder (derandomized, so CI sees the same inputs every run); the slow
variant feeds 100,000.
"""

from __future__ import annotations

import random
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlssim.mls.codec import Reader, Writer, decode, encode
from mlssim.mls.errors import DecodeError
from mlssim.mls.messages import (
    AuthenticatedContent,
    Commit,
    ContentType,
    Credential,
    FramedContent,
    GroupContext,
    GroupInfo,
    GroupSecrets,
    KeyPackage,
    LeafNode,
    MLSMessage,
    PreSharedKeyID,
    PrivateMessage,
    PrivateMessageContent,
    Proposal,
    PublicMessage,
    SenderData,
    UpdatePath,
    Welcome,
    WireFormat,
    decode_private_message_content,
    decode_ratchet_tree,
    encode_ratchet_tree,
)
from mlssim.vectors import load_cases

from .conftest import vector_dir

DEFAULT_EXAMPLES = 10_000
SLOW_EXAMPLES = 100_000
#: Inputs checked per Hypothesis example. About 95% of the run time is Hypothesis's own
#: per-example machinery (~0.9 ms; one input costs ~35 us to build and decode), so raising
#: this feeds the same number of inputs in a fraction of the time.
INPUTS_PER_EXAMPLE = 10
#: A wall-clock bound per input, checked only in the slow run (``-m slow``): the default run
#: asserts outcomes, never durations, so a loaded machine cannot fail it.
MAX_SECONDS_PER_INPUT = 1.0

# ------------------------------------------------------------------------------ targets


@dataclass(frozen=True)
class Target:
    """A decoder and its inverse; ``decode`` may raise DecodeError and nothing else."""

    decode: Callable[[bytes], Any]
    encode: Callable[[Any], bytes]


def _struct(cls: Any) -> Target:
    return Target(lambda b: decode(cls, b), encode)


def _private_content(ct: ContentType) -> Target:
    return Target(lambda b: decode_private_message_content(b, ct), encode)


TARGETS: dict[str, Target] = {
    "MLSMessage": _struct(MLSMessage),
    "KeyPackage": _struct(KeyPackage),
    "LeafNode": _struct(LeafNode),
    "ratchet_tree": Target(decode_ratchet_tree, encode_ratchet_tree),
    "UpdatePath": _struct(UpdatePath),
    "Proposal": _struct(Proposal),
    "Commit": _struct(Commit),
    "GroupInfo": _struct(GroupInfo),
    "GroupSecrets": _struct(GroupSecrets),
    "Welcome": _struct(Welcome),
    "FramedContent": _struct(FramedContent),
    "AuthenticatedContent": _struct(AuthenticatedContent),
    "PublicMessage": _struct(PublicMessage),
    "PrivateMessage": _struct(PrivateMessage),
    "SenderData": _struct(SenderData),
    "PrivateMessageContent[application]": _private_content(ContentType.APPLICATION),
    "PrivateMessageContent[proposal]": _private_content(ContentType.PROPOSAL),
    "PrivateMessageContent[commit]": _private_content(ContentType.COMMIT),
    "Credential": _struct(Credential),
    "PreSharedKeyID": _struct(PreSharedKeyID),
    "GroupContext": _struct(GroupContext),
}

# -------------------------------------------------------------------------------- seeds


@dataclass(frozen=True)
class Seed:
    data: bytes = field(repr=False)
    headers: tuple[int, ...] = field(repr=False)  # offsets of the §2.1.2 length headers met while decoding it


def _record_headers(target: Target, data: bytes) -> Seed:
    """Decode ``data`` once, noting where every variable-length header starts."""
    offsets: list[int] = []
    real = Reader.pull_varint

    def recording(self: Reader) -> int:
        offsets.append(self.pos)
        return real(self)

    with mock.patch.object(Reader, "pull_varint", recording):
        target.decode(data)
    return Seed(data, tuple(sorted(set(offsets))))


def _vectors_file() -> Path | None:
    d = vector_dir()
    return d / "messages.json" if d is not None and (d / "messages.json").exists() else None


@cache
def _raw_seeds() -> dict[str, list[bytes]]:
    """Real encodings of every target, cut out of the messages.json structs."""
    path = _vectors_file()
    if path is None:
        pytest.skip("messages.json not available")
    out: dict[str, list[bytes]] = {name: [] for name in TARGETS}

    def add(name: str, obj: Any) -> None:
        out[name].append(encode(obj))

    for case in load_cases(path)[:60]:
        b = {k: bytes.fromhex(v) for k, v in case.items()}
        msgs = [
            decode(MLSMessage, b[k])
            for k in (
                "mls_welcome",
                "mls_group_info",
                "mls_key_package",
                "public_message_application",
                "public_message_proposal",
                "public_message_commit",
                "private_message",
            )
        ]
        out["MLSMessage"] += [encode(m) for m in msgs]
        welcome, group_info, kp, pub_app, pub_prop, pub_commit, priv = (m.body for m in msgs)
        assert isinstance(kp, KeyPackage) and isinstance(group_info, GroupInfo)
        assert isinstance(pub_prop, PublicMessage) and isinstance(pub_commit, PublicMessage)
        assert isinstance(pub_app, PublicMessage)
        add("KeyPackage", kp)
        add("LeafNode", kp.leaf_node)
        add("Credential", kp.leaf_node.credential)
        add("Welcome", welcome)
        add("GroupInfo", group_info)
        add("GroupContext", group_info.group_context)
        add("PrivateMessage", priv)
        out["ratchet_tree"].append(b["ratchet_tree"])
        out["GroupSecrets"].append(b["group_secrets"])
        gs = decode(GroupSecrets, b["group_secrets"])
        for psk in gs.psks:
            add("PreSharedKeyID", psk)
        commit = decode(Commit, b["commit"])
        add("Commit", commit)
        for c in (commit, pub_commit.content.commit):
            if c is not None and c.path is not None:
                add("UpdatePath", c.path)
                add("LeafNode", c.path.leaf_node)
        for c in (commit, pub_commit.content.commit):
            for por in c.proposals if c is not None else ():
                if por.proposal is not None:
                    add("Proposal", por.proposal)
        if pub_prop.content.proposal is not None:
            add("Proposal", pub_prop.content.proposal)
        for pm in (pub_app, pub_prop, pub_commit):
            add("PublicMessage", pm)
            add("FramedContent", pm.content)
            add("AuthenticatedContent", pm.authenticated_content())
            ct = pm.content.content_type
            name = f"PrivateMessageContent[{ct.name.lower()}]"
            for padding in (0, 1, 20):
                add(
                    name,
                    PrivateMessageContent(
                        content_type=ct,
                        application_data=pm.content.application_data,
                        proposal=pm.content.proposal,
                        commit=pm.content.commit,
                        auth=pm.auth,
                        padding=padding,
                    ),
                )
        wf = WireFormat.PRIVATE_MESSAGE
        add(
            "AuthenticatedContent",
            AuthenticatedContent(wire_format=wf, content=pub_commit.content, auth=pub_commit.auth),
        )
    for i, (leaf, gen) in enumerate([(0, 0), (1, 7), (2**32 - 1, 2**32 - 1), (5, 300)]):
        add("SenderData", SenderData(leaf_index=leaf, generation=gen, reuse_guard=bytes([i, 255, 0, i])))
    for name, items in out.items():
        assert items, f"no seed for {name}"
        out[name] = sorted(set(items))
    return out


@cache
def _seeds(name: str) -> tuple[Seed, ...]:
    target = TARGETS[name]
    return tuple(_record_headers(target, data) for data in _raw_seeds()[name])


# ---------------------------------------------------------------------------- mutations
#
# One Hypothesis draw per input (a 64-bit integer) seeds a private ``random.Random`` that
# picks the seed encoding and the mutations. Drawing every choice through Hypothesis would
# shrink better but costs about 3x the time per input; a failure still names the exact
# bytes (see ``_check_one``), and ``derandomize=True`` makes every run feed the same inputs.

_OPS = ("flip", "byte", "truncate", "insert", "delete", "header", "header", "splice")
_BYTES = (0, 1, 2, 3, 4, 5, 6, 7, 8, 0x0A, 0x3F, 0x40, 0x7F, 0x80, 0xC0, 0xFF)
_VARINT_VALUES = (0, 1, 0x3F, 0x40, 0x3FFF, 0x4000, 0x3FFFFFFF)
_NON_MINIMAL = (b"\x40\x00", b"\x40\x05", b"\x80\x00\x00\x05", b"\x80\x00\x3f\xff")


def _varint_bytes(v: int) -> bytes:
    w = Writer()
    w.push_varint(v)
    return w.data()


def _header_len(first: int) -> int:
    return (1, 2, 4, 1)[first >> 6]


def _corrupt_header(rng: random.Random, data: bytearray, at: int) -> None:
    """Rewrite the length header at ``at``: boundary values, off-by-a-few, the rest of the
    input, non-minimal forms, or the reserved 0b11 prefix."""
    old_len = _header_len(data[at])
    kind = rng.randrange(5)
    if kind == 0:
        new = _varint_bytes(rng.choice(_VARINT_VALUES))
    elif kind == 1:
        old = int.from_bytes(data[at : at + old_len], "big") & ~(0xC0 << (8 * old_len - 8))
        new = _varint_bytes(max(0, min(old + rng.randint(-3, 3), 0x3FFFFFFF)))
    elif kind == 2:
        new = _varint_bytes(min(max(len(data) - at - old_len + rng.randint(-2, 2), 0), 0x3FFFFFFF))
    elif kind == 3:
        new = rng.choice(_NON_MINIMAL)
    else:
        new = b"\xc0\x00\x00\x00\x00\x00\x00\x01"
    data[at : at + old_len] = new


def mutate(seeds: tuple[Seed, ...], n: int) -> bytes:
    """The input number ``n``: random bytes (1 in 8), a seed as is (1 in 16), or a seed
    with one to four mutations."""
    rng = random.Random(n)
    roll = rng.randrange(16)
    if roll < 2:
        return rng.randbytes(rng.randrange(65))
    seed = seeds[rng.randrange(len(seeds))]
    if roll == 2:
        return seed.data
    data = bytearray(seed.data)
    for _ in range(rng.randint(1, 4)):
        op = rng.choice(_OPS)
        pos = rng.randrange(len(data)) if data else 0
        if op == "flip" and data:
            data[pos] ^= 1 << rng.randrange(8)
        elif op == "byte" and data:
            data[pos] = rng.choice(_BYTES)
        elif op == "truncate":
            del data[pos:]
        elif op == "insert":
            data[pos:pos] = rng.randbytes(rng.randint(1, 8))
        elif op == "delete":
            del data[pos : pos + rng.randint(1, 8)]
        elif op == "header" and seed.headers:
            at = rng.choice(seed.headers)
            if at < len(data):
                _corrupt_header(rng, data, at)
        elif op == "splice":
            other = seeds[rng.randrange(len(seeds))].data
            if other:
                a = rng.randrange(len(other))
                data[pos : pos + rng.randint(0, 16)] = other[a : a + rng.randint(1, 64)]
    return bytes(data)


# ------------------------------------------------------------------------------- runner


def _check_one(target: Target, data: bytes, time_bound: float | None = None) -> bool:
    """Decode once; True if accepted. Anything but DecodeError fails, naming the input; so
    does a decode slower than ``time_bound`` seconds, if given."""
    t0 = time.perf_counter()
    try:
        obj = target.decode(data)
    except DecodeError:
        return False
    except Exception as exc:
        raise AssertionError(f"{type(exc).__name__}: {exc} on input {data.hex()}") from exc
    finally:
        elapsed = time.perf_counter() - t0
        assert time_bound is None or elapsed < time_bound, f"decoding {len(data)} bytes took {elapsed:.2f} s"
    again = target.encode(obj)
    assert again == data, f"accepted but re-encodes differently: {data.hex()}"
    return True


def _fuzz(
    name: str, inputs: int, target: Target | None = None, time_bound: float | None = None
) -> tuple[int, int]:
    """Feed ``inputs`` inputs built from ``name``'s seeds to its decoder (or ``target``), each
    within ``time_bound`` seconds if given; returns how many were tried and how many decoded."""
    target = target or TARGETS[name]
    seeds = _seeds(name)
    seen = [0, 0]

    @settings(
        max_examples=-(-inputs // INPUTS_PER_EXAMPLE),
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.integers(min_value=0, max_value=2**64 - 1))
    def run(n: int) -> None:
        for i in range(INPUTS_PER_EXAMPLE):
            seen[0] += 1
            seen[1] += _check_one(target, mutate(seeds, n * INPUTS_PER_EXAMPLE + i), time_bound)

    run()
    return seen[0], seen[1]


@pytest.mark.parametrize("name", list(TARGETS))
def test_decoder_raises_only_decode_error(name: str) -> None:
    tried, accepted = _fuzz(name, DEFAULT_EXAMPLES)
    assert tried >= DEFAULT_EXAMPLES
    assert accepted > 0  # the seeds themselves decode: the fuzzing reached past the first byte


@pytest.mark.slow
@pytest.mark.parametrize("name", list(TARGETS))
def test_decoder_raises_only_decode_error_slow(name: str) -> None:
    tried, _ = _fuzz(name, SLOW_EXAMPLES, time_bound=MAX_SECONDS_PER_INPUT)
    assert tried >= SLOW_EXAMPLES


def test_every_seed_has_length_headers_to_corrupt() -> None:
    for name in TARGETS:
        if name == "SenderData":
            continue  # fixed-size: no vector headers at all
        assert all(s.headers for s in _seeds(name)), name


def test_the_harness_catches_a_decoder_that_raises_something_else() -> None:
    """A decoder leaking IndexError must fail the fuzz run, else the tests above prove nothing."""

    with pytest.raises(AssertionError, match=r"IndexError.*on input 0102"):
        _check_one(Target(lambda b: b[3], bytes), b"\x01\x02")
    with pytest.raises(AssertionError, match="re-encodes differently"):
        _check_one(Target(lambda b: b"x", lambda o: o), b"y")
    # the slow run's per-input time bound fires (a zero bound: no decode is that fast)
    with pytest.raises(AssertionError, match="decoding 1 bytes took"):
        _check_one(Target(lambda b: b, lambda o: o), b"y", time_bound=0.0)
    assert _check_one(Target(lambda b: b, lambda o: o), b"y")


def test_fuzzing_finds_a_bug_only_mutations_reach() -> None:
    """End to end: a decoder that leaks struct.error on one mutated shape fails ``_fuzz``."""

    def buggy(data: bytes) -> Credential:
        cred = decode(Credential, data)
        if len(cred.identity) > 1 and cred.identity[0] != ord("A") and cred.identity[1] == ord("l"):
            raise struct.error("planted bug")
        return cred

    with pytest.raises(AssertionError, match="planted bug"):
        _fuzz("Credential", 3000, Target(buggy, encode))


def test_mutations_reach_every_kind() -> None:
    """The inputs differ from the seeds in many distinct ways; some are seeds, some random bytes."""
    seeds = _seeds("MLSMessage")
    originals = {s.data for s in seeds}
    outs = [mutate(seeds, n) for n in range(2000)]
    assert len(set(outs) - originals) > 1500
    assert sum(o in originals for o in outs) > 50
    assert sum(len(o) <= 64 and o not in originals for o in outs) > 150
