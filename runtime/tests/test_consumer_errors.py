"""Which failures are outages (retried until they end) and which are the message's (dead-lettered)."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from govmesh_runtime.errors import is_conflict, is_outage


class DriverError(Exception):
    def __init__(self, message: str, sqlstate: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


def wrapped(sqlstate: str, message: str) -> DBAPIError:
    """A driver error the way SQLAlchemy wraps asyncpg's (found by make chaos: 57P03 was dead-lettered)."""
    return DBAPIError("INSERT …", {}, DriverError(message, sqlstate))


@pytest.mark.parametrize(
    "exc",
    [
        wrapped("57P03", "the database system is shutting down"),
        wrapped("57P01", "terminating connection due to administrator command"),
        wrapped("08006", "connection failure"),
        wrapped("53300", "too many connections"),
        OperationalError("SELECT 1", {}, Exception("database is locked")),
        ConnectionRefusedError(),
        TimeoutError(),
    ],
)
def test_outages_are_retried_not_dead_lettered(exc: BaseException) -> None:
    assert is_outage(exc)


@pytest.mark.parametrize(
    "exc",
    [
        IntegrityError("INSERT …", {}, DriverError("duplicate key", "23505")),
        wrapped("22P02", "invalid input syntax for type uuid"),
        ValueError("grid registry says no"),
        KeyError("matter"),
    ],
)
def test_faults_of_the_message_count_against_its_retries(exc: BaseException) -> None:
    assert not is_outage(exc)


@pytest.mark.parametrize(
    ("sqlstate", "message"),
    [("40P01", "deadlock detected"), ("40001", "could not serialize access due to concurrent update")],
)
def test_deadlocks_and_serialization_failures_are_retried_not_dead_lettered(sqlstate: str, message: str) -> None:
    exc = wrapped(sqlstate, message)
    assert is_conflict(exc)
    assert not is_outage(exc)  # a conflict is not an outage: the /readyz and 503 logic stay as they are


def test_other_errors_are_not_conflicts() -> None:
    assert not is_conflict(wrapped("23505", "duplicate key"))
    assert not is_conflict(ValueError("40P01"))
