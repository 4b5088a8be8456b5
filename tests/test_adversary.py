"""Ground truth for the adversary's knowledge (docs/security-model.md).

Every exposure claimed is checked against the members' real state (the derived epoch
authenticator must be the group's), so the adversary can neither over- nor under-claim
by construction mistakes that the key schedule would not catch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from mlssim.adversary import Adversary, EpochExposure, device_random
from mlssim.mls.crypto import CipherSuite, get_suite
from mlssim.mls.group import Group, GroupConfig, PublicEpoch, StagedCommit
from mlssim.mls.messages import MLSMessage
from mlssim.mls.messages.enums import WireFormat
from mlssim.mls.rand import RandomSource, SeededRandom

from .group_harness import Harness, roundtrip


@dataclass
class World:
    """A harness group watched by an adversary: every commit is observed as it is delivered."""

    h: Harness
    adv: Adversary
    log: list[tuple[PublicEpoch, PublicEpoch, MLSMessage, tuple[int, ...]]] = field(default_factory=list)

    @property
    def gid(self) -> bytes:
        return self.h.group_id

    def member(self, name: str) -> Group:
        return self.h.members[name]

    @property
    def epoch(self) -> int:
        return next(iter(self.h.members.values())).epoch

    def deliver(self, staged: StagedCommit, committer: str) -> EpochExposure:
        old = self.member(committer).public
        self.h.deliver(staged, committer)
        new = self.member(committer).public
        msg = roundtrip(staged.message)
        self.log.append((old, new, msg, staged.added))
        exp = self.adv.observe_commit(old, new, msg, added=staged.added, welcome=staged.welcome)
        self.check(exp)
        return exp

    def commit(self, committer: str, rand: RandomSource | None = None, **kw: object) -> EpochExposure:
        staged = self.member(committer).commit(rand or self.h.rand, **kw)  # type: ignore[arg-type]
        return self.deliver(staged, committer)

    def check(self, exp: EpochExposure) -> None:
        """An exposure claim is true: the derived secrets are the group's."""
        g = next(iter(self.h.members.values()))
        assert exp.epoch == g.epoch
        got = self.adv.epoch_secrets(self.gid, exp.epoch)
        if exp.exposed:
            assert got is not None and got.epoch_authenticator == g.epoch_authenticator
            assert got.encryption_secret == g.secrets.encryption_secret
            assert self.adv.can_read(self.gid, exp.epoch)
        else:
            assert got is None and not self.adv.exposed(self.gid, exp.epoch)


def make_world(n: int = 8, *, suite: CipherSuite | None = None, config: GroupConfig | None = None) -> World:
    suite = suite or get_suite(1, "model")
    h = Harness(suite, seed=5, config=config)
    w = World(h, Adversary(suite))
    h.create("m0")
    w.adv.observe_new_group(h.members["m0"].public)
    for i in range(1, n):
        w.deliver(h.members["m0"].commit(h.rand, adds=[h.client(f"m{i}").bundle.key_package]), "m0")
    return w


def test_nothing_known_nothing_exposed() -> None:
    w = make_world(6)
    for name in ("m1", "m4", "m2"):
        assert not w.commit(name).exposed
    assert w.adv.observed_epochs(w.gid) == {e: False for e in range(w.epoch + 1)}
    assert not w.adv.knowledge.hpke and not w.adv.knowledge.epochs


def test_a_compromised_member_that_never_updates_exposes_every_later_epoch() -> None:
    w = make_world(8)
    w.adv.compromise_member(w.member("m3"))
    start = w.epoch
    assert w.adv.exposed(w.gid, start)
    hows = [
        w.commit("m1").how,
        w.commit("m6").how,
        w.commit("m0", path=False, adds=[w.h.client("x").bundle.key_package]).how,
    ]
    # an Update of someone else (m5), committed by m2
    w.h.broadcast(w.h.members["m5"].propose_update(w.h.rand), "m5")
    hows.append(w.commit("m2").how)
    hows.append(w.commit("m7", removes=[w.member("m1").leaf_index]).how)
    assert hows == ["path", "path", "no-path", "path", "path"]
    assert w.adv.first_unexposed_after(w.gid, start) is None
    assert all(w.adv.exposed(w.gid, e) for e in range(start, w.epoch + 1))
    # observing a commit again (another member reporting it) keeps the first verdict
    old, new, msg, added = w.log[-1]
    assert w.adv.observe_commit(old, new, msg, added=added).how == "path"
    assert w.adv.exposed(w.gid, w.epoch, new.context_bytes)


def test_its_own_commit_with_a_path_heals_and_the_chain_stays_lost() -> None:
    w = make_world(8)
    w.adv.compromise_member(w.member("m3"))
    assert w.commit("m1").exposed
    healing = w.commit("m3")
    assert not healing.exposed
    assert not w.commit("m5").exposed
    assert not w.commit("m0", path=False, adds=[w.h.client("y").bundle.key_package]).exposed
    assert w.adv.first_unexposed_after(w.gid, healing.epoch - 2) == healing.epoch


def test_removal_heals_at_the_removal_epoch() -> None:
    w = make_world(8)
    w.adv.compromise_member(w.member("m3"))
    start = w.epoch
    assert w.commit("m6").exposed
    removal = w.commit("m1", removes=[w.member("m3").leaf_index])
    assert not removal.exposed
    assert w.adv.first_unexposed_after(w.gid, start) == removal.epoch


def test_an_update_proposal_committed_by_another_member_heals() -> None:
    """§12.1.2: the Update blanks the updater's direct path, so the committer encrypts to its
    new leaf key (fresh, unknown) instead of the parent keys the adversary copied."""
    w = make_world(8)
    w.adv.compromise_member(w.member("m3"))
    assert w.commit("m1").exposed
    w.h.broadcast(w.member("m3").propose_update(w.h.rand), "m3")
    assert not w.commit("m5").exposed


def test_an_update_proposed_before_the_compromise_does_not_heal() -> None:
    """The new leaf key was part of the copied state (pending, not yet committed)."""
    w = make_world(8)
    w.h.broadcast(w.member("m3").propose_update(w.h.rand), "m3")
    w.adv.compromise_member(w.member("m3"))
    exp = w.commit("m5")
    assert exp.exposed and exp.how == "path"
    assert w.commit("m0").exposed


def _rand_world(mixing: bool) -> tuple[World, RandomSource]:
    w = make_world(8)
    secret = SeededRandom(77, "mix").random_bytes(32) if mixing else None
    dev = device_random(SeededRandom(77, "m3"), w.adv, "m3", mixing_secret=secret)
    return w, dev


@pytest.mark.parametrize("mixing", [False, True])
def test_randomness_known_during_its_own_commit(mixing: bool) -> None:
    """The adversary copied m3's state, then sees its RNG while m3 commits: the commit heals
    only if m3 mixes a persistent secret the adversary does not hold."""
    w, dev = _rand_world(mixing)
    w.adv.compromise_member(w.member("m3"))  # without the device's RandomSource
    w.adv.compromise_randomness("m3")
    exp = w.commit("m3", rand=dev)
    w.adv.restore_randomness("m3")
    assert exp.exposed is not mixing
    if not mixing:
        assert exp.how == "randomness"
        assert w.commit("m5").exposed  # it now holds m3's new path keys
        assert not w.commit("m3", rand=dev).exposed  # a commit outside the window heals


def test_a_state_compromise_reveals_the_mixing_secret() -> None:
    w, dev = _rand_world(True)
    w.adv.compromise_member(w.member("m3"), rand=dev)
    w.adv.compromise_randomness("m3")
    exp = w.commit("m3", rand=dev)
    assert exp.exposed and exp.how == "randomness"


def test_a_mixing_secret_learned_later_unlocks_earlier_draws() -> None:
    """Draws recorded while the secret was unknown count once it is known (knowledge only grows)."""
    w, dev = _rand_world(True)
    w.adv.compromise_member(w.member("m3"))
    w.adv.compromise_randomness("m3")
    staged = w.member("m3").commit(dev)
    w.adv.restore_randomness("m3")
    w.adv.compromise_device(dev)
    assert w.deliver(staged, "m3").how == "randomness"


def test_forward_secrecy_earlier_epochs_stay_unexposed() -> None:
    w = make_world(8)
    for name in ("m1", "m2", "m4"):
        w.commit(name)
    now = w.epoch
    w.adv.compromise_member(w.member("m3"))
    for old, new, msg, added in w.log[:-1]:  # even shown every earlier commit again
        assert not w.adv.observe_commit(old, new, msg, added=added).exposed
    assert [e for e in range(now + 1) if w.adv.exposed(w.gid, e)] == [now]
    # the member keeps the previous epoch's secret tree for late messages (keep_past_epochs=1)
    assert w.adv.can_read(w.gid, now - 1) and not w.adv.exposed(w.gid, now - 1)
    assert not any(w.adv.can_read(w.gid, e) for e in range(now - 1))


def test_a_compromise_while_a_commit_is_staged_exposes_that_commit() -> None:
    w = make_world(6)
    staged = w.member("m2").commit(w.h.rand)
    w.adv.compromise_member(w.member("m2"))
    exp = w.deliver(staged, "m2")
    assert exp.exposed and exp.how == "held"


def test_a_leaked_key_package_opens_its_welcome_and_the_epochs_after() -> None:
    w = make_world(5)
    w.adv.compromise_key_package(w.h.client("x").bundle)
    exp = w.commit("m1", adds=[w.h.client("x").bundle.key_package])
    assert exp.exposed and exp.how == "welcome" and exp.keys_learned > 0
    assert w.commit("m4").exposed  # holds x's leaf key and the path keys its Welcome gave
    w.h.broadcast(w.member("x").propose_update(w.h.rand), "x")
    assert not w.commit("m2").exposed


def test_randomness_of_a_committer_adding_members_opens_the_welcome() -> None:
    """With the old epoch unknown, the regenerated commit secret is useless, but the Welcome's
    GroupSecrets are sealed with the committer's known HPKE randomness: joiner_secret leaks."""
    w = make_world(5)
    dev = device_random(SeededRandom(3, "m2"), w.adv, "m2")
    w.adv.compromise_randomness("m2")
    staged = w.member("m2").commit(dev, adds=[w.h.client("x").bundle.key_package])
    w.adv.restore_randomness("m2")
    exp = w.deliver(staged, "m2")
    assert exp.exposed and exp.how == "welcome-randomness"
    # it also regenerated m2's path, so the next commit by someone else opens too
    assert w.commit("m0").exposed


def test_randomness_of_a_group_creator_exposes_epoch_zero() -> None:
    suite = get_suite(1, "model")
    adv = Adversary(suite)
    h = Harness(suite, seed=9)
    c = h.client("a")
    dev = device_random(SeededRandom(1, "a"), adv, "a")
    adv.compromise_randomness("a")
    g = Group.create(suite, group_id=b"g0", identity=c.identity, rand=dev)
    adv.restore_randomness("a")
    exp = adv.observe_new_group(g.public)
    assert exp.exposed and exp.how == "created"
    assert adv.epoch_secrets(b"g0", 0).epoch_authenticator == g.epoch_authenticator  # type: ignore[union-attr]


def test_external_commit_into_an_exposed_epoch() -> None:
    w = make_world(6)
    w.adv.compromise_member(w.member("m3"))
    old = w.member("m0").public
    staged = w.h.external_join("ext", "m0")
    msg = roundtrip(staged.message)
    exp = w.adv.observe_commit(old, w.member("m0").public, msg, added=())
    w.check(exp)
    assert exp.exposed


def test_private_message_handshakes_are_read_with_the_exposed_epoch() -> None:
    w = make_world(6, config=GroupConfig(handshake_wire_format=WireFormat.PRIVATE_MESSAGE))
    w.adv.compromise_member(w.member("m3"))
    assert w.commit("m1").how == "path"
    assert not w.commit("m3").exposed
    assert not w.commit("m1").exposed  # the commit is now unreadable too


def test_real_suite_compromise_and_healing() -> None:
    w = make_world(4, suite=get_suite(1))
    w.adv.compromise_member(w.member("m2"))
    assert w.commit("m0").how == "path"
    assert w.commit("m3").exposed
    healing = w.commit("m2")
    assert not healing.exposed
    assert w.adv.first_unexposed_after(w.gid, healing.epoch - 3) == healing.epoch
