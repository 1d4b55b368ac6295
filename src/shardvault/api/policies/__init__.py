"""Approval policies (Dfns's policy engine): ``definitions.py`` checks what a policy
may say, ``transfers.py`` reads what a transaction moves, ``evaluation.py`` decides
whether policies trigger and whether an approval's quorum is met, ``store.py`` keeps
policies, approvals and decisions, ``views.py`` builds the answers."""

from shardvault.api.policies.store import PolicyStore

__all__ = ["PolicyStore"]
