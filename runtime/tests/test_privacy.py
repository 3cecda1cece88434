"""Personal data in the plumbing (issue 14, item 9): log lines mask phone and resident ID
numbers wherever they sit (nested fields, exception tracebacks, foreign loggers), and
SQL parameters never reach a log line or a dead letter's reason."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlmodel import select

from govmesh_runtime.db import Database
from govmesh_runtime.kafka import ProducerHolder
from govmesh_runtime.logging import configure_logging, get_logger
from govmesh_runtime.relay import OutboxRelay
from govmesh_runtime.tables import OutboxMessage

PHONE, ID_NUMBER = "13912345678", "620702199001011234"


def _lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


def test_nested_fields_and_tracebacks_are_masked(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("privacy-test")
    log = get_logger("privacy-test")
    log.info("nested", party={"name": "张三", "contact": {"phones": [PHONE]}}, ids=(ID_NUMBER,))
    try:
        raise ValueError(f"bad reporter phone {PHONE} id {ID_NUMBER}")
    except ValueError:
        log.exception("handler_failed")
        logging.getLogger("some.library").exception("a foreign logger")
    output = capsys.readouterr().out
    assert PHONE not in output and ID_NUMBER not in output
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert lines[0]["party"]["contact"]["phones"] == ["[phone]"]
    assert lines[0]["ids"] == ["[id-number]"]
    assert "ValueError: bad reporter phone [phone] id [id-number]" in lines[1]["exception"]
    assert "[phone]" in lines[2]["exception"]


async def test_sql_parameters_stay_out_of_errors(tmp_path: Path) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'p.sqlite'}")
    try:
        async with database.engine.begin() as connection:
            await connection.execute(sa.text("CREATE TABLE t (phone TEXT UNIQUE)"))
            await connection.execute(sa.text("INSERT INTO t VALUES (:phone)"), {"phone": PHONE})
        with pytest.raises(DBAPIError) as failed:
            async with database.engine.begin() as connection:
                await connection.execute(sa.text("INSERT INTO t VALUES (:phone)"), {"phone": PHONE})
        # what a log line or a dead letter's dlq_reason would carry: the statement, not the values
        assert PHONE not in str(failed.value) and PHONE not in repr(failed.value)
        assert "INSERT INTO t" in str(failed.value)
    finally:
        await database.dispose()


async def test_sent_payloads_are_cleared_after_their_retention(tmp_path: Path) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'o.sqlite'}")
    await database.migrate(Path(__file__).parent / "plumbing_migrations")
    now = datetime.now(UTC)
    payload = json.dumps({"reporter": {"phone": PHONE}})
    rows = {
        "old-sent": now - timedelta(days=2),
        "new-sent": now - timedelta(hours=1),
        "unsent": None,
    }
    try:
        async with database.sessions() as session:
            for event_id, sent_at in rows.items():
                session.add(
                    OutboxMessage(
                        event_id=event_id,
                        event_type="t",
                        topic="t",
                        key="k",
                        headers="[]",
                        payload=payload,
                        created_at=now - timedelta(days=3),
                        sent_at=sent_at,
                    )
                )
            await session.commit()
        relay = OutboxRelay(
            database.sessions, ProducerHolder("127.0.0.1:1", client_id="privacy-test"), payload_retention_s=24 * 3600
        )
        await relay.prune()
        async with database.sessions() as session:
            kept = {row.event_id: row.payload for row in (await session.exec(select(OutboxMessage))).all()}
        assert kept == {"old-sent": "", "new-sent": payload, "unsent": payload}  # the row itself stays
    finally:
        await database.dispose()
