"""The commit policy (``commit_policy:``): who commits pending proposals and when (at once or
lazily), commits owed by busy members, and the update-after-k-messages policy."""

from __future__ import annotations

from ..mls.group import Group
from ..mls.group_state import ProposalReceived
from . import commits
from .client import Client
from .context import Sim


def proposal_received(w: Sim, c: Client, group: str, g: Group, res: ProposalReceived) -> None:
    """The designated committer commits (at once, or lazily: after ``lazy_timer`` unless
    ``lazy_batch`` proposals are pending first)."""
    policy = w.scenario.commit_policy
    proposer = res.sender.index
    leaves = [i for i, leaf in g.tree.leaves() if i != proposer]
    if policy.committer == "lowest-online-leaf":
        online = [
            i
            for i, leaf in g.tree.leaves()
            if i != proposer and (m := w.clients.get(leaf.credential.identity.decode())) and m.ready
        ]
        leaves = online or leaves
    if policy.committer == "random":
        # every member draws the same committer from the proposal's reference (a hash)
        designated = leaves[int.from_bytes(res.ref[:8], "big") % len(leaves)]
    else:
        designated = min(leaves)
    if g.leaf_index != designated:
        return
    if policy.lazy_timer > 0 and len(g.pending_proposals) < policy.lazy_batch:
        if (c.name, group) not in w.lazy_timers:
            w.lazy_timers.add((c.name, group))
            w.env.timeout(policy.lazy_timer).callbacks.append(lambda _e: lazy_due(w, c, group))
        return
    commit_or_owe(w, c, group)


def lazy_due(w: Sim, c: Client, group: str) -> None:
    w.lazy_timers.discard((c.name, group))
    g = c.groups.get(group)
    if g is not None and g.active and g.pending_proposals:
        commit_or_owe(w, c, group)


def commit_or_owe(w: Sim, c: Client, group: str) -> None:
    if group not in c.pending and c.ready:
        commits.proposals(w, c, group, None)
    else:
        c.owed_commits.add(group)  # committed once it is free (see Client.caught_up)


def pay_owed_commits(w: Sim, c: Client) -> None:
    for group in sorted(c.owed_commits):
        if group not in c.pending:
            c.owed_commits.discard(group)
            commits.proposals(w, c, group, None)


def update_after_messages(w: Sim, c: Client, group: str) -> None:
    """The after-k-messages policy: ``c`` updates now if it is free (else at its next message)."""
    if not c.free_in(group):
        return
    c.sent_since_update[group] = 0
    w.recorder.event(w.env.now, "policy", group=group, client=c.name, action="update_after_messages")
    if w.group_specs[group].workload.update_mode == "commit":
        commits.update(w, c, group, None)
    elif group not in c.proposed:
        c.send_update_proposal(group)
