"""Outages versus bad input: the distinction that decides between retrying and refusing."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, OperationalError

# SQLSTATE classes that mean "the database is unavailable", not "this message is bad":
# 08 connection exception, 57P admin shutdown / crash / cannot connect now, 53 insufficient resources.
_OUTAGE_SQLSTATES = ("08", "57P", "53")


# SQLSTATE 40001 serialization_failure and 40P01 deadlock_detected: the database chose this
# transaction as the victim of a concurrent one; the same work succeeds when run again.
_CONFLICT_SQLSTATES = ("40001", "40P01")


def sqlstate(exc: BaseException) -> str:
    """The PostgreSQL SQLSTATE of a driver error wrapped by SQLAlchemy ('' when there is none)."""
    if not isinstance(exc, DBAPIError):
        return ""
    return str(getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None) or "")


def is_conflict(exc: BaseException) -> bool:
    """A deadlock or serialization failure: retried (the message is fine), never dead-lettered."""
    return sqlstate(exc) in _CONFLICT_SQLSTATES


def is_outage(exc: BaseException) -> bool:
    """An outage of the database (or the network to it): retried until it ends, never dead-lettered."""
    if isinstance(exc, OperationalError):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        if sqlstate(exc).startswith(_OUTAGE_SQLSTATES):
            return True
    return isinstance(exc, (ConnectionError, OSError, TimeoutError))


class EventTooLarge(ValueError):
    """An emitted event larger than its topic takes: refused when it is written to the outbox
    (the transaction rolls back), so no row waits for a publication that can never happen."""

    def __init__(self, event_type: str, topic: str, size: int, limit: int) -> None:
        self.event_type, self.topic, self.size, self.limit = event_type, topic, size, limit
        super().__init__(
            f"the event {event_type} would be {size:,} bytes, above the {limit:,} bytes topic {topic} takes;"
            " nothing was written"
        )
