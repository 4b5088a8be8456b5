"""The creation commit's HPKE contexts (issue 19): RFC 9420 §12.4.3.1 seals each joiner's
GroupSecrets with ``EncryptWithLabel(init_key, "Welcome", encrypted_group_info, ...)``, and an
HPKE setup hashes its whole ``info`` (RFC 9180 §5.1). So the counted ``hpke_setup`` bytes of an
Add of N members are N copies of the encrypted GroupInfo: with the tree inside it they grow as
N², without it as N. ``reports/README.md`` (processing) rests on this."""

from __future__ import annotations

import pytest

from mlssim.mls.crypto import get_suite
from mlssim.mls.crypto.counting import CountingSuite, WorkCounts, counting
from mlssim.mls.group import Group, GroupConfig
from mlssim.mls.rand import SeededRandom

from .group_harness import make_client


def _create(n: int, tree_in_welcome: bool) -> tuple[WorkCounts, int]:
    """The committer's tally for one commit adding n − 1 members, and the size of the
    Welcome's encrypted GroupInfo."""
    suite = CountingSuite(get_suite(1, "model"))
    rand = SeededRandom(3, "welcome-cost")
    creator = make_client(suite, "creator", rand)
    joiners = [make_client(suite, f"m{i}", rand) for i in range(n - 1)]
    config = GroupConfig(ratchet_tree_in_welcome=tree_in_welcome)
    group = Group.create(suite, group_id=b"g", identity=creator.identity, rand=rand, config=config)
    tally = WorkCounts()
    with counting(tally):
        staged = group.commit(rand, adds=[c.bundle.key_package for c in joiners])
    assert staged.welcome is not None
    return tally, len(staged.welcome.body.encrypted_group_info)


@pytest.mark.parametrize("tree_in_welcome", [True, False])
def test_every_joiners_hpke_setup_hashes_the_encrypted_group_info(tree_in_welcome: bool) -> None:
    tally, egi = _create(12, tree_in_welcome)
    assert tally["hpke_setup"] == 11  # one seal per joiner (a fresh tree: no path secrets to seal)
    per_setup = tally["hpke_setup_bytes"] / tally["hpke_setup"]
    # EncryptContext = label<V> || context<V> (RFC 9420 §5.1.3, §2.1.2 variable-size length
    # prefixes): the context is the whole encrypted GroupInfo
    label = len(b"MLS 1.0 Welcome")
    prefix = 1 if egi < 64 else 2 if egi < 16384 else 4
    assert per_setup == 1 + label + prefix + egi


def test_with_the_tree_inside_an_add_hashes_quadratically_many_bytes() -> None:
    (with8, _), (with32, _) = _create(8, True), _create(32, True)
    (out8, _), (out32, _) = _create(8, False), _create(32, False)
    grow_with = with32["hpke_setup_bytes"] / with8["hpke_setup_bytes"]
    grow_out = out32["hpke_setup_bytes"] / out8["hpke_setup_bytes"]
    # 31/7 joiners: linear growth is about 4.4x; with the tree each copy grows too
    assert 4.0 < grow_out < 5.0, grow_out
    assert grow_with > 12.0, grow_with
