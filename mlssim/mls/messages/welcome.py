"""GroupInfo and Welcome (RFC 9420 §12.4.3, §12.4.3.1, §12.4.3.2): what a new member joins from."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..codec import Reader, Writer
from .common import Extension, GroupContext, pull_extensions, push_extensions
from .psk_id import PreSharedKeyID
from .tree import HPKECiphertext

__all__ = [
    "GroupInfo",
    "group_info_tbs",
    "ExternalPub",
    "PathSecret",
    "GroupSecrets",
    "EncryptedGroupSecrets",
    "Welcome",
    "secrets_index",
    "first_new_member",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupInfo:
    """§12.4.3 GroupInfo; ``signature`` by leaf ``signer`` over :func:`group_info_tbs`."""

    group_context: GroupContext
    extensions: tuple[Extension, ...] = ()
    confirmation_tag: bytes
    signer: int
    signature: bytes = b""

    def _push_tbs(self, w: Writer) -> None:
        self.group_context.push(w)
        push_extensions(w, self.extensions)
        w.push_opaque(self.confirmation_tag)
        w.push_uint32(self.signer)

    def push(self, w: Writer) -> None:
        self._push_tbs(w)
        w.push_opaque(self.signature)

    @classmethod
    def pull(cls, r: Reader) -> GroupInfo:
        return cls(
            group_context=GroupContext.pull(r),
            extensions=pull_extensions(r),
            confirmation_tag=r.pull_opaque(),
            signer=r.pull_uint32(),
            signature=r.pull_opaque(),
        )


def group_info_tbs(gi: GroupInfo) -> bytes:
    """The §12.4.3 GroupInfoTBS bytes (label "GroupInfoTBS"): all but the signature."""
    w = Writer()
    gi._push_tbs(w)
    return w.data()


@dataclass(frozen=True, slots=True, kw_only=True)
class ExternalPub:
    """§12.4.3.2 ExternalPub: the external_pub GroupInfo extension data, for external joins."""

    external_pub: bytes

    def push(self, w: Writer) -> None:
        w.push_opaque(self.external_pub)

    @classmethod
    def pull(cls, r: Reader) -> ExternalPub:
        return cls(external_pub=r.pull_opaque())


@dataclass(frozen=True, slots=True, kw_only=True)
class PathSecret:
    """§12.4.3.1 PathSecret: the secret of the lowest common ancestor with the committer."""

    path_secret: bytes

    def push(self, w: Writer) -> None:
        w.push_opaque(self.path_secret)

    @classmethod
    def pull(cls, r: Reader) -> PathSecret:
        return cls(path_secret=r.pull_opaque())


def _push_path_secret(w: Writer, p: PathSecret) -> None:
    w.push_opaque(p.path_secret)


def _push_psk_id(w: Writer, p: PreSharedKeyID) -> None:
    p.push(w)


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupSecrets:
    """§12.4.3.1 GroupSecrets: what the Welcome seals to each new member's init key."""

    joiner_secret: bytes
    path_secret: PathSecret | None = None
    psks: tuple[PreSharedKeyID, ...] = ()

    def push(self, w: Writer) -> None:
        w.push_opaque(self.joiner_secret)
        w.push_optional(self.path_secret, _push_path_secret)
        w.push_vector(self.psks, _push_psk_id)

    @classmethod
    def pull(cls, r: Reader) -> GroupSecrets:
        return cls(
            joiner_secret=r.pull_opaque(),
            path_secret=r.pull_optional(PathSecret.pull),
            psks=tuple(r.pull_vector(PreSharedKeyID.pull)),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class EncryptedGroupSecrets:
    """§12.4.3.1 EncryptedGroupSecrets: GroupSecrets sealed to the KeyPackageRef ``new_member``."""

    new_member: bytes
    encrypted_group_secrets: HPKECiphertext

    def push(self, w: Writer) -> None:
        w.push_opaque(self.new_member)
        self.encrypted_group_secrets.push(w)

    @classmethod
    def pull(cls, r: Reader) -> EncryptedGroupSecrets:
        return cls(new_member=r.pull_opaque(), encrypted_group_secrets=HPKECiphertext.pull(r))


def _push_encrypted_group_secrets(w: Writer, e: EncryptedGroupSecrets) -> None:
    e.push(w)


@dataclass(frozen=True, slots=True, kw_only=True)
class Welcome:
    """§12.4.3.1 Welcome: one EncryptedGroupSecrets per new member and the sealed GroupInfo."""

    cipher_suite: int
    secrets: tuple[EncryptedGroupSecrets, ...] = ()
    encrypted_group_info: bytes

    def push(self, w: Writer) -> None:
        w.push_uint16(self.cipher_suite)
        w.push_vector(self.secrets, _push_encrypted_group_secrets)
        w.push_opaque(self.encrypted_group_info)

    @classmethod
    def pull(cls, r: Reader) -> Welcome:
        return cls(
            cipher_suite=r.pull_uint16(),
            secrets=tuple(r.pull_vector(EncryptedGroupSecrets.pull)),
            encrypted_group_info=r.pull_opaque(),
        )


#: the Welcomes most recently indexed by :func:`secrets_index`, by identity (a simulator hands
#: one Welcome object to every one of its thousands of joiners; each scanning it was O(N^2))
_indexed: list[tuple[Welcome, dict[bytes, int]]] = []
_INDEXED_MAX = 8


def secrets_index(welcome: Welcome) -> dict[bytes, int]:
    """The position in ``welcome.secrets`` of the first entry for each KeyPackageRef (the entry
    a scan in order finds). Built once per Welcome object; do not modify the result."""
    for w, known in _indexed:
        if w is welcome:
            return known
    index: dict[bytes, int] = {}
    for i, e in enumerate(welcome.secrets):
        index.setdefault(e.new_member, i)
    if len(_indexed) >= _INDEXED_MAX:
        del _indexed[0]
    _indexed.append((welcome, index))
    return index


def first_new_member(welcome: Welcome, refs: Iterable[bytes]) -> bytes | None:
    """The KeyPackageRef of the first ``secrets`` entry naming one of ``refs`` (a joiner holding
    several KeyPackages), or None."""
    index = secrets_index(welcome)
    found = [i for i in (index.get(r) for r in refs) if i is not None]
    return welcome.secrets[min(found)].new_member if found else None
