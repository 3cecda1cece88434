"""Mediation's handlers: one async function per command or event, a module per aggregate.

A handler changes state through ``uow.session`` and emits events with ``uow.emit``;
the caller (an API route, the consumer loop or the deadline sweeper) opens and commits
the unit of work. Time comes in as ``now`` (an injected clock), never from the system.

- ``disputes``: the dispute file, opened from dispatch's tasks, its parties, facts and risk;
- ``assignment``: which mediator holds a dispute;
- ``sessions``: mediation sessions;
- ``agreements``: agreements, judicial confirmation, follow-ups and the deadline sweep;
- ``windows``: window services (legal aid, counselling) and community deliberations;
- ``studios``: studios and mediators (the seed);
- ``common``: what they share.

The names below are re-exported so that ``from mediation.handlers import …`` keeps working.
"""

from mediation.handlers.agreements import (
    SweepResult,
    apply_for_judicial_confirmation,
    record_agreement,
    record_follow_up,
    run_deadline_sweep,
)
from mediation.handlers.assignment import assign_mediator, record_conflict_of_interest
from mediation.handlers.common import NotFound
from mediation.handlers.disputes import (
    ERASED,
    add_party,
    assess_risk,
    erase_case_copies_on_erasure,
    hand_over_on_task_reassigned,
    open_dispute_on_task_assigned,
    read_contact,
    refer_dispute,
    task_assigned_from,
    update_dispute,
    withdraw_dispute,
    withdraw_on_task_cancelled,
)
from mediation.handlers.sessions import SessionConflict, cancel_session, record_session, schedule_session
from mediation.handlers.studios import load_seed
from mediation.handlers.windows import complete_window_request, open_window_request, record_deliberation

__all__ = [
    "ERASED",
    "NotFound",
    "SessionConflict",
    "SweepResult",
    "add_party",
    "apply_for_judicial_confirmation",
    "assess_risk",
    "assign_mediator",
    "cancel_session",
    "complete_window_request",
    "erase_case_copies_on_erasure",
    "hand_over_on_task_reassigned",
    "load_seed",
    "open_dispute_on_task_assigned",
    "open_window_request",
    "read_contact",
    "record_agreement",
    "record_conflict_of_interest",
    "record_deliberation",
    "record_follow_up",
    "record_session",
    "refer_dispute",
    "run_deadline_sweep",
    "schedule_session",
    "task_assigned_from",
    "update_dispute",
    "withdraw_dispute",
    "withdraw_on_task_cancelled",
]
