"""``govmesh-auth``: create the keyring, issue and revoke client credentials.

    govmesh-auth init                                   # production: a new random secret
    govmesh-auth token --client W001 --role grid-worker --place 620702001001001 [--ttl 3600]
    govmesh-auth token --client city-hotline --scope cases:create --scope cases:read [--place 620702]
    govmesh-auth api-key --client open311-app --role open311-client
    govmesh-auth revoke <jti or API key id>

``--role`` grants the role's scopes from :mod:`govmesh_runtime.roles` (the same table OIDC
sign-in uses); ``--scope`` adds single scopes. Unknown roles and scopes are refused.

The keyring file is ``$GOVMESH_KEYRING`` (default ``<data dir>/auth/keyring.json``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from govmesh_runtime.auth import Keyring
from govmesh_runtime.roles import ALL_SCOPES, Role, scopes_for
from govmesh_runtime.settings import ServiceSettings


def keyring_path() -> Path:
    return Path(os.environ.get("GOVMESH_KEYRING") or ServiceSettings().data_dir / "auth" / "keyring.json")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Issue and revoke govmesh client credentials.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("init", help="create the keyring with a new random secret (refuses to overwrite)")
    for name in ("token", "api-key"):
        cmd = sub.add_parser(name)
        cmd.add_argument("--client", required=True, help="client id (the subject)")
        cmd.add_argument(
            "--role", action="append", default=[], choices=[role.value for role in Role], help="repeatable"
        )
        cmd.add_argument("--scope", action="append", default=[], choices=sorted(ALL_SCOPES), help="repeatable")
        cmd.add_argument("--place", action="append", default=[], help="division or grid code prefix; repeatable")
        if name == "token":
            cmd.add_argument("--ttl", type=int, default=3600, help="seconds")
    revoke = sub.add_parser("revoke")
    revoke.add_argument("identifier", help="a token's jti or an API key id")
    args = parser.parse_args(argv)

    path = keyring_path()
    if args.command == "init":
        if path.exists() or Keyring.init(path) is None:
            print(f"{path} exists; not overwritten", file=sys.stderr)
            return 1
        print(f"created {path}")
        return 0
    ring = Keyring.load(path, development=False)
    if args.command in ("token", "api-key"):
        scopes = sorted(scopes_for(args.role) | set(args.scope))
        if not scopes:
            parser.error("give at least one --role or --scope")
    if args.command == "token":
        print(ring.issue_token(args.client, scopes, args.place, args.ttl))
    elif args.command == "api-key":
        key_id, key = ring.issue_api_key(args.client, scopes, args.place)
        ring.save()
        print(f"{key}\n(key id {key_id}; shown once)", file=sys.stdout)
    else:
        ring.revoke(args.identifier)
        ring.save()
        print(f"revoked {args.identifier}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
