"""TLS presentation language codec with RFC 9420 variable-length vectors (§2.1.2).

A cursor :class:`Reader` and an appending :class:`Writer` with one ``pull_*``/``push_*``
pair per primitive (aioquic's ``Buffer``). Decoding is strict: a non-minimal varint, a
length past the end, or bytes left over raise :class:`DecodeError` and nothing else.

Wire structs implement the :class:`Struct` protocol (``push`` and the classmethod
``pull``); :func:`encode` and :func:`decode` turn them into bytes and back.
"""

from __future__ import annotations

import struct as _struct
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar, runtime_checkable

from .errors import DecodeError

__all__ = [
    "Reader",
    "Writer",
    "Struct",
    "encode",
    "cached_encoding",
    "decode",
    "varint_size",
    "opaque_prefix",
    "MAX_VARINT",
]

T = TypeVar("T")
S = TypeVar("S", bound="Struct")

MAX_VARINT = (1 << 30) - 1

_U16 = _struct.Struct(">H")
_U32 = _struct.Struct(">I")
_U64 = _struct.Struct(">Q")
_BYTE = [bytes([i]) for i in range(0x40)]


def opaque_prefix(n: int) -> bytes:
    """The varint length prefix of an ``opaque<V>`` of ``n`` bytes (§2.1.2), on its own: for
    hot paths that build an encoding by concatenation instead of through a :class:`Writer`."""
    if n < 0x40:
        return _BYTE[n]
    if n < 0x4000:
        return _U16.pack(0x4000 | n)
    if n <= MAX_VARINT:
        return _U32.pack(0x80000000 | n)
    raise ValueError(f"vector length {n} exceeds the MLS varint range")


def varint_size(n: int) -> int:
    """Bytes the §2.1.2 header of a vector of ``n`` bytes takes."""
    if n < 0x40:
        return 1
    if n < 0x4000:
        return 2
    if n <= MAX_VARINT:
        return 4
    raise ValueError(f"vector length {n} exceeds the MLS varint range")


class Reader:
    """A cursor over immutable bytes; every pull checks bounds."""

    __slots__ = ("_data", "_pos", "_end")

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self._data = data
        self._pos = pos
        self._end = len(data) if end is None else end

    @property
    def pos(self) -> int:
        return self._pos

    def since(self, start: int) -> bytes:
        """The bytes consumed from offset ``start`` up to the cursor (a struct's own encoding,
        which strict decoding makes canonical: re-encoding it gives the same bytes)."""
        return self._data[start : self._pos]

    def eof(self) -> bool:
        return self._pos >= self._end

    def remaining(self) -> int:
        return self._end - self._pos

    def pull_bytes(self, n: int) -> bytes:
        start = self._pos
        stop = start + n
        if n < 0 or stop > self._end:
            raise DecodeError(f"need {n} bytes at offset {start}, have {self._end - start}")
        self._pos = stop
        return self._data[start:stop]

    def pull_uint8(self) -> int:
        if self._pos >= self._end:
            raise DecodeError(f"need 1 byte at offset {self._pos}, have 0")
        v = self._data[self._pos]
        self._pos += 1
        return v

    def pull_uint16(self) -> int:
        return int(_U16.unpack(self.pull_bytes(2))[0])

    def pull_uint32(self) -> int:
        return int(_U32.unpack(self.pull_bytes(4))[0])

    def pull_uint64(self) -> int:
        return int(_U64.unpack(self.pull_bytes(8))[0])

    def pull_varint(self) -> int:
        """A §2.1.2 length header; rejects the reserved prefix and non-minimal forms."""
        pos = self._pos
        if pos >= self._end:
            raise DecodeError(f"need 1 byte at offset {pos}, have 0")
        first = self._data[pos]
        self._pos = pos + 1
        prefix = first >> 6
        if prefix == 0:
            return first
        if prefix == 1:
            v = ((first & 0x3F) << 8) | self.pull_uint8()
            if v < 0x40:
                raise DecodeError("non-minimal variable-length integer")
            return v
        if prefix == 2:
            rest = self.pull_bytes(3)
            v = ((first & 0x3F) << 24) | (rest[0] << 16) | (rest[1] << 8) | rest[2]
            if v < 0x4000:
                raise DecodeError("non-minimal variable-length integer")
            return v
        raise DecodeError("variable-length integer with reserved prefix 0b11")

    def pull_opaque(self) -> bytes:
        """``opaque data<V>``."""
        n = self.pull_varint()
        start = self._pos
        stop = start + n
        if stop > self._end:
            raise DecodeError(f"need {n} bytes at offset {start}, have {self._end - start}")
        self._pos = stop
        return self._data[start:stop]

    def pull_pairs_to_end(self, make: Callable[[bytes, bytes], T]) -> list[T]:
        """``struct { opaque a<V>; opaque b<V>; }`` items as ``make(a, b)`` from the cursor to
        the end of this reader (e.g. a ``sub()`` reader of the vector): what :meth:`pull_vector`
        of such a struct reads, with the same checks, in one loop (a commit to a large group
        carries thousands of HPKECiphertexts, §7.6)."""
        out: list[T] = []
        append = out.append
        pull = self.pull_opaque
        while self._pos < self._end:
            a = pull()
            append(make(a, pull()))
        return out

    def rest(self) -> bytes:
        """The bytes from the cursor to the end, without consuming them."""
        return self._data[self._pos : self._end]

    def pull_bool(self) -> bool:
        v = self.pull_uint8()
        if v > 1:
            raise DecodeError(f"invalid boolean {v}")
        return v == 1

    def sub(self) -> Reader:
        """A reader limited to the next ``<V>`` block; this cursor skips past it."""
        n = self.pull_varint()
        start = self._pos
        if start + n > self._end:
            raise DecodeError(f"vector of {n} bytes at offset {start} runs past the end")
        self._pos = start + n
        return Reader(self._data, start, start + n)

    def pull_vector(self, pull_item: Callable[[Reader], T]) -> list[T]:
        """``T items<V>``: items until the block is consumed exactly."""
        r = self.sub()
        out: list[T] = []
        while not r.eof():
            out.append(pull_item(r))
        return out

    def pull_optional(self, pull_item: Callable[[Reader], T]) -> T | None:
        """``optional<T>``: a presence byte then the value."""
        return pull_item(self) if self.pull_bool() else None

    def expect_end(self) -> None:
        if self._pos != self._end:
            raise DecodeError(f"{self._end - self._pos} trailing bytes at offset {self._pos}")


class Writer:
    """Appends encodings to a growing bytearray."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = bytearray()

    def data(self) -> bytes:
        return bytes(self._buf)

    def __len__(self) -> int:
        return len(self._buf)

    def push_bytes(self, b: bytes) -> None:
        self._buf += b

    def push_uint8(self, v: int) -> None:
        if not 0 <= v <= 0xFF:
            raise ValueError(f"uint8 out of range: {v}")
        self._buf.append(v)

    def push_uint16(self, v: int) -> None:
        self._buf += _U16.pack(v)

    def push_uint32(self, v: int) -> None:
        self._buf += _U32.pack(v)

    def push_uint64(self, v: int) -> None:
        self._buf += _U64.pack(v)

    def push_varint(self, v: int) -> None:
        if v < 0x40:
            self._buf.append(v)
        elif v < 0x4000:
            self._buf += _U16.pack(0x4000 | v)
        elif v <= MAX_VARINT:
            self._buf += _U32.pack(0x80000000 | v)
        else:
            raise ValueError(f"vector length {v} exceeds the MLS varint range")

    def push_opaque(self, b: bytes) -> None:
        self.push_varint(len(b))
        self._buf += b

    def push_vector(self, items: Sequence[T], push_item: Callable[[Writer, T], None]) -> None:
        inner = Writer()
        for item in items:
            push_item(inner, item)
        self.push_opaque(bytes(inner._buf))

    def push_optional(self, item: T | None, push_item: Callable[[Writer, T], None]) -> None:
        if item is None:
            self._buf.append(0)
        else:
            self._buf.append(1)
            push_item(self, item)


@runtime_checkable
class Struct(Protocol):
    """A wire struct: ``push`` writes it, ``pull`` reads one from a cursor."""

    def push(self, w: Writer) -> None: ...

    @classmethod
    def pull(cls: type[S], r: Reader) -> S: ...


def encode(obj: Struct) -> bytes:
    w = Writer()
    obj.push(w)
    return w.data()


def cached_encoding(obj: Struct) -> bytes:
    """``obj``'s encoding, kept in its ``_wire`` slot: the bytes it was decoded from, else encoded
    once (for frozen structs whose exact bytes are signed, MACed or hashed again and again)."""
    wire: bytes | None = getattr(obj, "_wire", None)
    if wire is None:
        wire = encode(obj)
        object.__setattr__(obj, "_wire", wire)
    return wire


class _Tally(Protocol):
    """What :func:`decode` charges (``crypto.counting.WorkCounts``; this module sits below
    ``crypto/`` and must not import it)."""

    def add(self, name: str, nbytes: int | None = None) -> None: ...


#: The tally charged one ``decode`` per call of :func:`decode` (by bytes), or None; set only by
#: ``crypto.counting.counting``.
_decode_tally: _Tally | None = None


def decode(cls: type[S], data: bytes) -> S:
    """Decode exactly one ``cls`` from ``data``; leftover bytes are an error."""
    if _decode_tally is not None:
        _decode_tally.add("decode", len(data))
    r = Reader(bytes(data))
    try:
        obj = cls.pull(r)
    except DecodeError:
        raise
    except ValueError as exc:  # a struct's own validation of decoded fields
        raise DecodeError(f"invalid {cls.__name__}: {exc}") from exc
    r.expect_end()
    return obj


def push_struct(w: Writer, obj: Struct) -> None:
    """Adapter so struct lists can go through :meth:`Writer.push_vector`."""
    obj.push(w)
