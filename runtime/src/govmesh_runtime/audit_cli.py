"""``govmesh-audit``: prove a service's audit log untouched.

    govmesh-audit verify <database url> [--head HASH]

Walks the hash chain (``govmesh_runtime.audit_chain``) in id order and names the first
broken link: a rewritten row, or the row after one deleted or slipped in. Prints the head
(the last row's hash): keep it elsewhere and pass it later as ``--head`` to prove that no
newer rows were cut off either. Exit code 0 intact, 1 broken, 2 usage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlmodel import col

from govmesh_runtime.audit_chain import Verdict, verify
from govmesh_runtime.db import sync_url
from govmesh_runtime.tables import AuditRecord


def verify_database(url: str) -> tuple[Verdict, set[str]]:
    """The verdict on the chain and the set of every row's hash (to find a kept head)."""
    engine = sa.create_engine(sync_url(url), poolclass=sa.pool.NullPool)
    table = AuditRecord.__table__  # type: ignore[attr-defined]
    hashes: set[str] = set()
    try:
        with engine.connect() as conn:
            rows = conn.execution_options(yield_per=1000).execute(sa.select(table).order_by(col(AuditRecord.id)))

            def remember() -> Iterator[Any]:
                for row in rows:
                    hashes.add(row.row_hash)
                    yield row

            verdict = verify(remember())
    finally:
        engine.dispose()
    return verdict, hashes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="govmesh-audit", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("verify", help="walk the audit log's hash chain; name the first broken link")
    check.add_argument("url", help="the service's database, e.g. sqlite:///.data/db/intake.sqlite or postgresql://…")
    check.add_argument("--head", help="a head printed earlier: it must still be in the chain")
    args = parser.parse_args(argv)

    verdict, hashes = verify_database(args.url)
    if not verdict.ok:
        print(f"broken at audit_log id {verdict.broken_at}: {verdict.reason} ({verdict.rows} rows read)")
        return 1
    if args.head and args.head not in hashes:
        print(f"the head {args.head} is no longer in the chain: rows were cut off ({verdict.rows} rows intact)")
        return 1
    print(f"intact: {verdict.rows} rows, head {verdict.head}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
