"""A Welcome's entries are found by an index built once per Welcome object (thousands of
simulated joiners share one Welcome): the index must answer exactly as a scan in order."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from mlssim.mls.messages.tree import HPKECiphertext
from mlssim.mls.messages.welcome import EncryptedGroupSecrets, Welcome, first_new_member, secrets_index

_CT = HPKECiphertext(kem_output=b"k", ciphertext=b"c")


def _welcome(refs: list[bytes]) -> Welcome:
    return Welcome(
        cipher_suite=1,
        secrets=tuple(EncryptedGroupSecrets(new_member=r, encrypted_group_secrets=_CT) for r in refs),
        encrypted_group_info=b"gi",
    )


def _scan(w: Welcome, held: list[bytes]) -> bytes | None:
    return next((e.new_member for e in w.secrets if e.new_member in held), None)


refs = st.lists(st.sampled_from([b"a", b"b", b"c", b"d", b"e"]), max_size=8)


@given(refs, refs)
def test_first_new_member_is_the_first_entry_a_scan_finds(entries: list[bytes], held: list[bytes]) -> None:
    w = _welcome(entries)
    assert first_new_member(w, held) == _scan(w, held)
    index = secrets_index(w)
    for r in set(entries):
        assert index[r] == entries.index(r)  # the first entry of a repeated ref
    assert set(index) == set(entries)


def test_each_welcome_object_has_its_own_index() -> None:
    w = _welcome([b"a", b"b"])
    assert secrets_index(w) is secrets_index(w)  # built once
    other = replace(w, secrets=w.secrets[1:])
    assert first_new_member(other, [b"a"]) is None
    assert first_new_member(w, [b"a"]) == b"a"
    for i in range(20):  # more Welcomes than are kept indexed: answers stay right
        assert first_new_member(_welcome([bytes([i])]), [bytes([i])]) == bytes([i])
    assert first_new_member(w, [b"b", b"a"]) == b"a"
