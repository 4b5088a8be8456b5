"""The RFC 9420 checks that reject tampered input: :class:`Rule` and the table :data:`RULES`.

Each rule names the check, the section of RFC 9420 that requires it and the exact error class
the core raises when it fails. Every alteration of the catalogue is tagged with one rule, the
delivery helpers compare what a receiver raised against it, and the ledger counts per rule; so
the table lives apart from all three, as the one thing they share.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlssim.mls.credentials import CredentialError
from mlssim.mls.errors import DecodeError, MLSError
from mlssim.mls.group import UnknownSenderError, WrongEpochError, WrongGroupError
from mlssim.mls.group_state import GroupInfoTreeHashError
from mlssim.mls.key_packages import KeyPackageSignatureError
from mlssim.mls.keyschedule import ConfirmationTagError
from mlssim.mls.leaf_nodes import LeafNodeSignatureError
from mlssim.mls.protect import (
    ContentDecryptionError,
    InvalidMembershipTagError,
    InvalidSignatureError,
    SenderDataError,
)
from mlssim.mls.ratchet_tree import ParentHashMismatchError
from mlssim.mls.secret_tree import GenerationTooFarError, KeyConsumedError
from mlssim.mls.tree_validation import ParentHashError
from mlssim.mls.treekem import PathSecretDecryptionError
from mlssim.mls.welcome import GroupInfoSignatureError, NoMatchingKeyPackageError, WelcomeError

__all__ = ["Rule", "RULES"]


@dataclass(frozen=True, slots=True)
class Rule:
    """One RFC 9420 check that rejects tampered input."""

    name: str
    #: where RFC 9420 requires the check
    rfc_section: str
    #: the exact class the core raises when the check fails
    error: type[MLSError]
    #: what the receiver verifies
    check: str
    #: False if a member that the commit removes stops before this check: it learns its removal
    #: from the authenticated content and cannot derive the new epoch (§12.4.2)
    reached_by_removed: bool = True


def _rules(*rules: Rule) -> dict[str, Rule]:
    return {r.name: r for r in rules}


RULES: dict[str, Rule] = _rules(
    Rule(
        "decode", "6.2", DecodeError, "the bytes parse as an MLSMessage (a member's PublicMessage has a tag)"
    ),
    Rule("group", "6", WrongGroupError, "group_id names the receiver's group"),
    Rule("epoch", "12.4.2", WrongEpochError, "epoch is the receiver's current epoch"),
    Rule("sender", "6.1", UnknownSenderError, "the sender index names a member (a signature key)"),
    Rule("membership-tag", "6.2", InvalidMembershipTagError, "MAC(membership_key, AuthenticatedContentTBM)"),
    Rule("signature", "6.1", InvalidSignatureError, "SignWithLabel over FramedContentTBS, sender's key"),
    Rule("sender-data", "6.3.2", SenderDataError, "SenderData opens (key from the ciphertext sample)"),
    Rule("content-aead", "6.3.1", ContentDecryptionError, "ciphertext opens with PrivateContentAAD"),
    Rule("key-reuse", "9.2", KeyConsumedError, "a ratchet key decrypts once, then is deleted"),
    Rule(
        "generation-window", "9.1", GenerationTooFarError, "generation within the receiver's window (§15.3)"
    ),
    Rule("leaf-signature", "7.3", LeafNodeSignatureError, "the UpdatePath LeafNode's signature (§12.4.2)"),
    Rule("parent-hash", "7.9.2", ParentHashMismatchError, "the leaf's parent_hash matches the path"),
    Rule(
        "path-secret",
        "12.4.2",
        PathSecretDecryptionError,
        "path secret opens under the provisional GroupContext",
        reached_by_removed=False,
    ),
    Rule(
        "confirmation-tag",
        "12.4.2",
        ConfirmationTagError,
        "MAC(confirmation_key, confirmed_transcript_hash)",
        reached_by_removed=False,
    ),
    Rule("key-package-signature", "10.1", KeyPackageSignatureError, "KeyPackage signature, leaf's key"),
    Rule("credential", "5.3.1", CredentialError, "the AS vouches for identity + signature key"),
    Rule("welcome-secrets", "12.4.3.1", WelcomeError, "GroupSecrets open (EncryptWithLabel, GroupInfo ctx)"),
    Rule("welcome-ref", "12.4.3.1", NoMatchingKeyPackageError, "an entry names this KeyPackageRef"),
    Rule("group-info-signature", "12.4.3.1", GroupInfoSignatureError, "GroupInfo signed by its signer leaf"),
    Rule("tree-hash", "12.4.3.1", GroupInfoTreeHashError, "tree hash of the tree = GroupInfo tree_hash"),
    Rule("tree-parent-hash", "7.9.2", ParentHashError, "every parent node is parent-hash valid (§12.4.3.1)"),
    Rule("welcome-confirmation-tag", "12.4.3.1", ConfirmationTagError, "GroupInfo confirmation tag"),
)
