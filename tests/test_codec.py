"""The codec: varints (RFC 9420 §2.1.2), vectors, optionals, strictness."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlssim.mls.codec import MAX_VARINT, Reader, Writer, varint_size
from mlssim.mls.errors import DecodeError


@given(st.integers(min_value=0, max_value=MAX_VARINT))
def test_varint_round_trip_and_minimal(n: int) -> None:
    w = Writer()
    w.push_varint(n)
    data = w.data()
    assert len(data) == varint_size(n)
    r = Reader(data)
    assert r.pull_varint() == n
    assert r.eof()


@pytest.mark.parametrize("hexdata", ["4000", "403f", "80000000", "80003fff"])
def test_non_minimal_varint_rejected(hexdata: str) -> None:
    with pytest.raises(DecodeError, match="non-minimal"):
        Reader(bytes.fromhex(hexdata)).pull_varint()


def test_reserved_prefix_rejected() -> None:
    with pytest.raises(DecodeError, match="reserved"):
        Reader(bytes.fromhex("c0000000")).pull_varint()


def test_varint_too_large_refused_on_encode() -> None:
    with pytest.raises(ValueError):
        Writer().push_varint(MAX_VARINT + 1)


@given(st.lists(st.binary(max_size=80), max_size=10))
def test_vector_of_opaques_round_trip(items: list[bytes]) -> None:
    w = Writer()
    w.push_vector(items, Writer.push_opaque)
    r = Reader(w.data())
    assert r.pull_vector(Reader.pull_opaque) == items
    r.expect_end()


@given(st.one_of(st.none(), st.integers(min_value=0, max_value=2**32 - 1)))
def test_optional_round_trip(v: int | None) -> None:
    w = Writer()
    w.push_optional(v, Writer.push_uint32)
    r = Reader(w.data())
    assert r.pull_optional(Reader.pull_uint32) == v
    r.expect_end()


def test_length_past_end_and_trailing_bytes() -> None:
    with pytest.raises(DecodeError):
        Reader(bytes.fromhex("05aabb")).pull_opaque()
    r = Reader(bytes.fromhex("01aa00"))
    assert r.pull_opaque() == b"\xaa"
    with pytest.raises(DecodeError, match="trailing"):
        r.expect_end()


def test_vector_item_overrunning_its_block_is_rejected() -> None:
    # a vector block of 2 bytes whose single item claims 3 bytes
    with pytest.raises(DecodeError):
        Reader(bytes.fromhex("0203aabbcc")).pull_vector(Reader.pull_opaque)


def test_bool_strict() -> None:
    with pytest.raises(DecodeError):
        Reader(b"\x02").pull_bool()


@settings(max_examples=2000)
@given(st.binary(max_size=64))
def test_random_bytes_only_raise_decode_error(data: bytes) -> None:
    r = Reader(data)
    try:
        while not r.eof():
            r.pull_vector(lambda rr: rr.pull_optional(Reader.pull_opaque))
    except DecodeError:
        pass
