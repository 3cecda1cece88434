"""``govmesh-dlq``: list and replay dead-lettered records.

    govmesh-dlq list intake.cases.v1.dlq
    govmesh-dlq replay intake.cases.v1.dlq [--offset N ...]

Replay publishes the original value, key and headers (without the ``dlq_*`` ones)
back to the original topic; the event id is unchanged, so a consumer that already
applied it skips it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition


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
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False, group_id=None)
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
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, enable_idempotence=True, acks="all")
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="List and replay dead-lettered Kafka records.")
    parser.add_argument("--bootstrap-servers", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
    sub = parser.add_subparsers(dest="command", required=True)
    list_cmd = sub.add_parser("list", help="print the dead letters of a DLQ topic as JSON lines")
    list_cmd.add_argument("topic")
    replay_cmd = sub.add_parser("replay", help="publish dead letters back to their original topic")
    replay_cmd.add_argument("topic")
    replay_cmd.add_argument("--offset", type=int, action="append", help="only these offsets (repeatable)")
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
    print(f"replayed {asyncio.run(replay(args.bootstrap_servers, chosen))} record(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
