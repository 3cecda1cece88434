"""``govmesh-topics``: create every topic of the contracts registry (idempotent)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

from govmesh_runtime.kafka import ensure_topics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bootstrap-servers", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
    parser.add_argument("--wait", type=float, default=60.0, help="seconds to wait for the broker")
    args = parser.parse_args(argv)
    deadline = time.monotonic() + args.wait
    while True:
        try:
            created = asyncio.run(ensure_topics(args.bootstrap_servers))
            break
        except Exception as exc:
            if time.monotonic() > deadline:
                print(f"cannot reach Kafka at {args.bootstrap_servers}: {exc!r}", file=sys.stderr)
                return 1
            time.sleep(1)
    print(f"topics: {len(created)} created" + (f" ({', '.join(created)})" if created else ", all present"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
