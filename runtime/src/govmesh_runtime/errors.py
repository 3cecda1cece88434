"""Outages versus bad input: the distinction that decides between retrying and refusing."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, OperationalError

# SQLSTATE classes that mean "the database is unavailable", not "this message is bad":
# 08 connection exception, 57P admin shutdown / crash / cannot connect now, 53 insufficient resources.
_OUTAGE_SQLSTATES = ("08", "57P", "53")


def is_outage(exc: BaseException) -> bool:
    """An outage of the database (or the network to it): retried until it ends, never dead-lettered."""
    if isinstance(exc, OperationalError):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        sqlstate = str(getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None) or "")
        if sqlstate.startswith(_OUTAGE_SQLSTATES):
            return True
    return isinstance(exc, (ConnectionError, OSError, TimeoutError))
