"""The development realm for Keycloak, generated from the mesh's one role table.

``python infra/keycloak/realm.py write`` rewrites ``govmesh-realm.json`` (committed, imported
by ``keycloak.sh start``); ``check`` exits 1 when the committed file differs. The realm's
roles are exactly ``govmesh_runtime.roles.Role``, so a role added there reaches Keycloak.

FOR DEVELOPMENT AND TESTS ONLY: the users' passwords and the clients' secrets below are
public. A real deployment uses the province's provider (or its own Keycloak realm) with
its own users; see docs/security.md.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from govmesh_runtime.roles import Role

REALM = "govmesh"
REALM_FILE = Path(__file__).resolve().parent / "govmesh-realm.json"
# One audience per service: a service accepts only tokens that name it (<SERVICE>_OIDC_AUDIENCE).
SERVICES = ("intake", "dispatch", "mediation", "policing", "video-bridge")
DEV_PASSWORD = "govmesh-dev"  # noqa: S105 every demo user's password (development only)
SYSTEM_ROLES = {Role.OPEN311_CLIENT, Role.GOVERNMENT_SYSTEM, Role.VIDEO_ANALYTICS}


def audience(service: str) -> str:
    return f"govmesh-{service}"


def _audience_mapper(service: str) -> dict[str, Any]:
    return {
        "name": f"audience {audience(service)}",
        "protocol": "openid-connect",
        "protocolMapper": "oidc-audience-mapper",
        "consentRequired": False,
        "config": {
            "included.custom.audience": audience(service),
            "access.token.claim": "true",
            "id.token.claim": "false",
            "introspection.token.claim": "true",
        },
    }


PLACE_MAPPER: dict[str, Any] = {
    "name": "place",
    "protocol": "openid-connect",
    "protocolMapper": "oidc-usermodel-attribute-mapper",
    "consentRequired": False,
    "config": {
        "user.attribute": "place",
        "claim.name": "place",
        "jsonType.label": "String",
        "multivalued": "false",
        "access.token.claim": "true",
        "id.token.claim": "true",
        "userinfo.token.claim": "true",
        "introspection.token.claim": "true",
    },
}

# A grid worker's worker id (dispatch's registry: `W` + grid code + serial) as claim `worker_id`:
# the mesh takes it as the person's subject, so their tasks (assignee = worker id) are theirs,
# exactly as with the development sign-in.
WORKER_ID_MAPPER: dict[str, Any] = {
    **PLACE_MAPPER,
    "name": "worker_id",
    "config": {**PLACE_MAPPER["config"], "user.attribute": "worker_id", "claim.name": "worker_id"},
}

# Keycloak's declarative user profile drops attributes it does not know: declare `place`
# (editable by administrators only, so a user cannot move themselves to another grid).
_ADMIN_ONLY = {"view": ["admin", "user"], "edit": ["admin"]}
USER_PROFILE: dict[str, Any] = {
    "attributes": [
        {
            "name": "username",
            "displayName": "${username}",
            "validations": {"length": {"min": 3, "max": 255}, "username-prohibited-characters": {}},
            "permissions": {"view": ["admin", "user"], "edit": ["admin", "user"]},
            "multivalued": False,
        },
        {
            "name": "email",
            "displayName": "${email}",
            "validations": {"email": {}, "length": {"max": 255}},
            "permissions": {"view": ["admin", "user"], "edit": ["admin", "user"]},
            "multivalued": False,
        },
        {
            "name": "firstName",
            "displayName": "${firstName}",
            "validations": {"length": {"max": 255}},
            "permissions": {"view": ["admin", "user"], "edit": ["admin", "user"]},
            "multivalued": False,
        },
        {
            "name": "lastName",
            "displayName": "${lastName}",
            "validations": {"length": {"max": 255}},
            "permissions": {"view": ["admin", "user"], "edit": ["admin", "user"]},
            "multivalued": False,
        },
        {
            "name": "place",
            "displayName": "Place (grid or division code)",
            "validations": {"pattern": {"pattern": "^[0-9]{6,15}$", "error-message": "a grid or division code"}},
            "permissions": _ADMIN_ONLY,
            "multivalued": False,
        },
        {
            "name": "worker_id",
            "displayName": "Grid worker id",
            "validations": {"pattern": {"pattern": "^W[0-9]{17}$", "error-message": "a grid worker id"}},
            "permissions": _ADMIN_ONLY,
            "multivalued": False,
        },
    ],
    "groups": [],
}

# Demo staff: (username, role, place or None for everywhere). Places exist in the
# generated small city (`make city`): grid 620702001001001, community 620702001001.
# Grid workers carry their worker id in the small city (workers.json) as `worker_id`.
WORKER_IDS: dict[str, str] = {"grid-worker-1": "W62070200100100101", "grid-worker-2": "W62070200100100201"}
USERS: tuple[tuple[str, Role, str | None], ...] = (
    ("grid-worker-1", Role.GRID_WORKER, "620702001001001"),
    ("grid-worker-2", Role.GRID_WORKER, "620702001001002"),
    ("community-centre-1", Role.COMMUNITY_CENTRE, "620702001001"),
    ("mediator-1", Role.MEDIATOR, "620702"),
    ("police-officer-1", Role.POLICE_OFFICER, "620702"),
    ("auditor-1", Role.AUDITOR, None),
    ("administrator-1", Role.ADMINISTRATOR, None),
)

# Other government systems: (client id, role, services whose audience its tokens carry).
SYSTEMS: tuple[tuple[str, Role, tuple[str, ...]], ...] = (
    ("city-hotline", Role.GOVERNMENT_SYSTEM, ("intake",)),
    ("open311-portal", Role.OPEN311_CLIENT, ("intake",)),
    ("video-analytics", Role.VIDEO_ANALYTICS, ("video-bridge",)),
)


def _role_description(role: Role) -> str:
    # Scopes are not copied here: the mesh maps roles to scopes (roles.ROLE_SCOPES) itself.
    return "a system (confidential client)" if role in SYSTEM_ROLES else "staff"


def _user(username: str, role: Role, place: str | None) -> dict[str, Any]:
    return {
        "username": username,
        "enabled": True,
        "emailVerified": True,
        "email": f"{username}@govmesh.invalid",
        "firstName": username.split("-")[0].capitalize(),
        "lastName": username.rsplit("-", 1)[-1],
        "attributes": ({"place": [place]} if place else {})
        | ({"worker_id": [WORKER_IDS[username]]} if username in WORKER_IDS else {}),
        "credentials": [{"type": "password", "value": DEV_PASSWORD, "temporary": False}],
        "realmRoles": [str(role)],
        "requiredActions": [],
    }


def _system_client(client_id: str, services: tuple[str, ...]) -> dict[str, Any]:
    return {
        "clientId": client_id,
        "name": f"{client_id} (government system, client credentials)",
        "enabled": True,
        "protocol": "openid-connect",
        "publicClient": False,
        "clientAuthenticatorType": "client-secret",
        "secret": f"{client_id}-dev-secret",  # development only
        "serviceAccountsEnabled": True,
        "standardFlowEnabled": False,
        "implicitFlowEnabled": False,
        "directAccessGrantsEnabled": False,
        "fullScopeAllowed": True,
        "protocolMappers": [_audience_mapper(service) for service in services],
    }


def realm() -> dict[str, Any]:
    console = {
        "clientId": "govmesh-console",
        "name": "govmesh console (staff sign-in in the browser)",
        "enabled": True,
        "protocol": "openid-connect",
        "publicClient": True,
        "standardFlowEnabled": True,
        "implicitFlowEnabled": False,
        "directAccessGrantsEnabled": False,
        "serviceAccountsEnabled": False,
        "redirectUris": ["http://localhost/*", "http://127.0.0.1/*", "http://localhost:*", "http://127.0.0.1:*"],
        "webOrigins": ["+"],
        "attributes": {"pkce.code.challenge.method": "S256", "post.logout.redirect.uris": "+"},
        "fullScopeAllowed": True,
        "protocolMappers": [PLACE_MAPPER, WORKER_ID_MAPPER, *(_audience_mapper(service) for service in SERVICES)],
    }
    systems = [_system_client(client_id, services) for client_id, _, services in SYSTEMS]
    service_accounts = [
        {
            "username": f"service-account-{client_id}",
            "enabled": True,
            "serviceAccountClientId": client_id,
            "realmRoles": [str(role)],
        }
        for client_id, role, _ in SYSTEMS
    ]
    return {
        "realm": REALM,
        "displayName": "govmesh (DEVELOPMENT ONLY: public passwords)",
        "enabled": True,
        "sslRequired": "external",
        "registrationAllowed": False,
        "loginWithEmailAllowed": False,
        "bruteForceProtected": True,
        "accessTokenLifespan": 300,
        "roles": {"realm": [{"name": str(role), "description": _role_description(role)} for role in Role]},
        "clients": [console, *systems],
        "users": [_user(*user) for user in USERS] + service_accounts,
        "components": {
            "org.keycloak.userprofile.UserProfileProvider": [
                {
                    "providerId": "declarative-user-profile",
                    "subComponents": {},
                    "config": {"kc.user.profile.config": [json.dumps(USER_PROFILE)]},
                }
            ]
        },
    }


def render() -> str:
    return json.dumps(realm(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else ""
    if command == "write":
        REALM_FILE.write_text(render())
        print(f"wrote {REALM_FILE}")
        return 0
    if command == "check":
        if REALM_FILE.read_text() != render():
            print(f"{REALM_FILE} is out of date: run python infra/keycloak/realm.py write", file=sys.stderr)
            return 1
        return 0
    print("usage: realm.py write|check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
