"""Residents' deliberation (议事会): residents settle their own matters by consultation."""

from __future__ import annotations

from dataclasses import dataclass

from mediation.domain.disputes import DisputeRuleError

MIN_PARTICIPANTS = 3


@dataclass(frozen=True)
class Vote:
    votes_for: int
    votes_against: int
    abstentions: int


def decision_passed(vote: Vote, present: int) -> bool:
    """A decision passes with the votes of more than half of the participants present."""
    return vote.votes_for * 2 > present


def check_deliberation(present: int, votes: list[Vote]) -> None:
    if present < MIN_PARTICIPANTS:
        raise DisputeRuleError("participants", f"a deliberation needs at least {MIN_PARTICIPANTS} participants")
    for number, vote in enumerate(votes):
        if vote.votes_for + vote.votes_against + vote.abstentions > present:
            raise DisputeRuleError(f"decisions[{number}]", "more votes than participants present")
