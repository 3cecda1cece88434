"""``govmesh-dlq``: list and replay dead-lettered records.

    govmesh-dlq list intake.cases.v1.dlq
    govmesh-dlq replay intake.cases.v1.dlq [--offset N ...] [--database-url URL] [--force]

Replay publishes the original value, key and headers (without the ``dlq_*`` ones)
back to the original topic; the event id is unchanged, so a consumer that already
applied it skips it.

Replay refuses a dead letter when the consumer that gave up on it has since applied a
later event of the same key (the same aggregate): applied now, the old event would land
on newer state (a reopened case closed again, a task reassigned back). It reads the
records after the dead one in its original partition, keeps those of the same key and
looks their event ids up in that consumer's inbox (``--database-url``, else the
service's ``<SERVICE>_DATABASE_URL`` or its SQLite file under ``GOVMESH_DATA_DIR``).
``--force`` replays anyway. Exit code 1 when a record was refused.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from sqlmodel import col, select

from govmesh_runtime.db import Database
from govmesh_runtime.kafka import KafkaSecurity
from govmesh_runtime.tables import InboxMessage

# Consumer group names start with their service's name (dispatch-cases, intake-timeline …).
_SERVICES = ("video-bridge", "intake", "dispatch", "mediation", "policing")


@dataclass(frozen=True)
class DeadLetter:
    offset: int
    partition: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value.decode(errors="replace")
        return None

    def original_headers(self) -> list[tuple[str, bytes]]:
        return [(k, v) for k, v in self.headers if not k.startswith("dlq_")]


async def read_dead_letters(bootstrap_servers: str, dlq_topic: str) -> list[DeadLetter]:
    """Every record currently in the DLQ topic (read without a consumer group)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        enable_auto_commit=False,
        group_id=None,
        **KafkaSecurity.from_env().client_options(),  # an operator's tool: the mesh-wide (admin) credentials
    )
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(dlq_topic)
        if partitions is None:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(dlq_topic) or set()
        tps = [TopicPartition(dlq_topic, p) for p in sorted(partitions)]
        if not tps:
            return []
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        letters: list[DeadLetter] = []
        while [tp for tp in tps if await consumer.position(tp) < end[tp]]:
            batch = await consumer.getmany(timeout_ms=1000)
            for records in batch.values():
                letters += [DeadLetter(r.offset, r.partition, r.key, r.value, list(r.headers or ())) for r in records]
        return letters
    finally:
        await consumer.stop()


async def replay(bootstrap_servers: str, letters: list[DeadLetter]) -> int:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        enable_idempotence=True,
        acks="all",
        **KafkaSecurity.from_env().client_options(),
    )
    await producer.start()
    try:
        for letter in letters:
            topic = letter.header("dlq_original_topic")
            if topic is None:
                raise ValueError(f"offset {letter.offset}: no dlq_original_topic header")
            await producer.send_and_wait(topic, value=letter.value, key=letter.key, headers=letter.original_headers())
        return len(letters)
    finally:
        await producer.stop()


@dataclass(frozen=True)
class Later:
    """A record after a dead letter, of the same key, in the same partition."""

    offset: int
    event_id: str
    event_type: str | None


async def later_of_same_key(bootstrap_servers: str, letter: DeadLetter) -> list[Later]:
    """The records of the dead letter's key that follow it in its original partition."""
    topic, partition, offset = (
        letter.header("dlq_original_topic"),
        letter.header("dlq_original_partition"),
        letter.header("dlq_original_offset"),
    )
    if topic is None or partition is None or offset is None:
        raise ValueError(f"offset {letter.offset}: no dlq_original_topic/partition/offset headers")
    tp = TopicPartition(topic, int(partition))
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        enable_auto_commit=False,
        group_id=None,
        **KafkaSecurity.from_env().client_options(),  # an operator's tool: the mesh-wide (admin) credentials
    )
    await consumer.start()
    try:
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        consumer.seek(tp, int(offset) + 1)
        found: list[Later] = []
        while await consumer.position(tp) < end:
            for records in (await consumer.getmany(tp, timeout_ms=1000)).values():
                for r in records:
                    if r.key != letter.key:
                        continue
                    headers = DeadLetter(r.offset, r.partition, r.key, r.value, list(r.headers or ()))
                    event_id = headers.header("ce_id")
                    if event_id:
                        found.append(Later(r.offset, event_id, headers.header("ce_type")))
        return found
    finally:
        await consumer.stop()


def database_url_of(consumer: str) -> str | None:
    """The consuming service's database: its <SERVICE>_DATABASE_URL, else its SQLite file if it exists."""
    service = next((s for s in _SERVICES if consumer == s or consumer.startswith(s + "-")), None)
    if service is None:
        return None
    url = os.environ.get(service.upper().replace("-", "_") + "_DATABASE_URL")
    if url:
        return url
    path = Path(os.environ.get("GOVMESH_DATA_DIR", ".data")) / "db" / f"{service}.sqlite"
    return f"sqlite+aiosqlite:///{path.resolve()}" if path.exists() else None


async def applied_later(
    bootstrap_servers: str, letter: DeadLetter, database_url: str | None
) -> tuple[list[Later], str | None]:
    """Later events of the letter's key that its consumer applied; or why that cannot be known."""
    consumer = letter.header("dlq_consumer")
    if consumer is None:
        return [], "no dlq_consumer header"
    later = await later_of_same_key(bootstrap_servers, letter)
    if not later:
        return [], None
    url = database_url or database_url_of(consumer)
    if url is None:
        return [], f"no database known for consumer {consumer} (give --database-url)"
    db = Database(url)
    try:
        async with db.sessions() as session:
            applied = set(
                (
                    await session.exec(
                        select(InboxMessage.event_id).where(
                            col(InboxMessage.consumer) == consumer,
                            col(InboxMessage.event_id).in_([item.event_id for item in later]),
                        )
                    )
                ).all()
            )
    finally:
        await db.dispose()
    return [item for item in later if item.event_id in applied], None


async def refusals(bootstrap_servers: str, letters: list[DeadLetter], database_url: str | None) -> dict[int, str]:
    """Dead-letter offset → why replaying it would apply it out of order (or why that is unknown)."""
    refused: dict[int, str] = {}
    for letter in letters:
        applied, unknown = await applied_later(bootstrap_servers, letter, database_url)
        consumer = letter.header("dlq_consumer")
        if unknown is not None:
            refused[letter.offset] = f"cannot check whether later events of its key were applied: {unknown}"
        elif applied:
            first = applied[0]
            refused[letter.offset] = (
                f"{consumer} has applied {len(applied)} later event(s) of the same key since "
                f"(first: {first.event_type} {first.event_id} at offset {first.offset} of "
                f"{letter.header('dlq_original_topic')}); replaying it would apply it out of order"
            )
    return refused


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="List and replay dead-lettered Kafka records.")
    parser.add_argument("--bootstrap-servers", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
    sub = parser.add_subparsers(dest="command", required=True)
    list_cmd = sub.add_parser("list", help="print the dead letters of a DLQ topic as JSON lines")
    list_cmd.add_argument("topic")
    replay_cmd = sub.add_parser("replay", help="publish dead letters back to their original topic")
    replay_cmd.add_argument("topic")
    replay_cmd.add_argument("--offset", type=int, action="append", help="only these offsets (repeatable)")
    replay_cmd.add_argument(
        "--database-url", help="the consuming service's database, to check its inbox (default: from its settings)"
    )
    replay_cmd.add_argument(
        "--force", action="store_true", help="replay also records whose key has later events applied already"
    )
    args = parser.parse_args(argv)

    letters = asyncio.run(read_dead_letters(args.bootstrap_servers, args.topic))
    if args.command == "list":
        for letter in letters:
            print(
                json.dumps(
                    {
                        "partition": letter.partition,
                        "offset": letter.offset,
                        "original_topic": letter.header("dlq_original_topic"),
                        "original_offset": letter.header("dlq_original_offset"),
                        "consumer": letter.header("dlq_consumer"),
                        "type": letter.header("ce_type"),
                        "id": letter.header("ce_id"),
                        "reason": letter.header("dlq_reason"),
                    },
                    ensure_ascii=False,
                )
            )
        return 0
    chosen = [letter for letter in letters if not args.offset or letter.offset in args.offset]
    refused = {} if args.force else asyncio.run(refusals(args.bootstrap_servers, chosen, args.database_url))
    for offset, why in refused.items():
        print(f"refused offset {offset}: {why}; --force replays it anyway", file=sys.stderr)
    chosen = [letter for letter in chosen if letter.offset not in refused]
    print(f"replayed {asyncio.run(replay(args.bootstrap_servers, chosen))} record(s)")
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())
