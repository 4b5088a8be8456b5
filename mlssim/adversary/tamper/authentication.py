"""A compromised authentication service: :class:`Directory` (the identity / signature key
bindings the AS vouches for, used as the credential validator) and :func:`issue_insider`, a
device of the adversary the AS vouches for.

Apart from the catalogue because nothing is altered: an insider is a legitimate member as far
as MLS can tell (§16.10), so it is counted as admitted and undetectable, never as rejected.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlssim.mls.credentials import CredentialError, UnsupportedCredentialTypeError, check_same_identifiers
from mlssim.mls.crypto.suite import CipherSuite
from mlssim.mls.group import MemberIdentity
from mlssim.mls.key_packages import KeyPackageBundle, make_key_package
from mlssim.mls.messages import Credential, CredentialType, Lifetime
from mlssim.mls.rand import RandomSource

__all__ = ["Directory", "Insider", "issue_insider"]


class Directory:
    """The application's record of what its AS vouches for: the signature keys each identity may
    use (§5.3.1). A :class:`~mlssim.mls.credentials.CredentialValidator` for ``LeafPolicy``:
    a basic credential is valid for a signature key iff the AS vouched for that pair."""

    __slots__ = ("_keys",)

    def __init__(self) -> None:
        self._keys: dict[bytes, set[bytes]] = {}

    def vouch(self, identity: bytes, signature_key: bytes) -> None:
        self._keys.setdefault(identity, set()).add(signature_key)

    def __call__(
        self,
        credential: Credential,
        signature_key: bytes,
        now: int,
        /,
        *,
        predecessor: Credential | None = None,
    ) -> None:
        if credential.credential_type != CredentialType.BASIC:
            raise UnsupportedCredentialTypeError(f"the directory holds basic credentials, not {credential}")
        if signature_key not in self._keys.get(credential.identity, ()):
            raise CredentialError(f"the AS never vouched for this key for identity {credential.identity!r}")
        if predecessor is not None:
            check_same_identifiers(credential, predecessor)  # a device keeps its user's identity


@dataclass(frozen=True, slots=True, kw_only=True)
class Insider:
    """A device the adversary controls that a compromised AS vouched for (§16.10). MLS accepts it
    like any member: nothing in the protocol can tell, so it is undetectable by MLS."""

    bundle: KeyPackageBundle
    identity: MemberIdentity
    detectable_by_mls: bool = False


def issue_insider(
    suite: CipherSuite,
    directory: Directory,
    identity: bytes,
    rand: RandomSource,
    *,
    lifetime: Lifetime | None = None,
) -> Insider:
    """The AS vouches for a fresh signature key of the adversary under ``identity`` (e.g. a new
    device of an existing user) and the adversary publishes a valid KeyPackage for it."""
    sig = suite.signature_key_pair(rand)
    directory.vouch(identity, sig.pub)
    credential = Credential.basic(identity)
    bundle = make_key_package(
        suite,
        credential=credential,
        signature_key_pair=sig,
        rand=rand,
        lifetime=lifetime or Lifetime(not_before=0, not_after=2**63),
    )
    return Insider(
        bundle=bundle,
        identity=MemberIdentity(
            credential=credential,
            signature_priv=sig.priv,
            signature_key=sig.pub,
            capabilities=bundle.key_package.leaf_node.capabilities,
        ),
    )
