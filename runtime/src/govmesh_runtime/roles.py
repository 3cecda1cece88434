"""The one table from a person's or system's role to the scopes it is given.

Staff sign in with an OpenID Connect provider (Keycloak, or the province's own) whose
tokens carry roles and a place claim (a grid or division code); the local keyring
issues the same scopes to development tokens and API keys. Both go through this table,
so `docs/security.md` shows it once and a test walks it.

Scopes are narrow, one per kind of work:

===================  ================================================================
``cases:create``     report a case through the one door (REST, Open311, a terminal)
``cases:read``       cases, tasks, timelines, disputes, police tasks' public part
``cases:manage``     case-level decisions of a centre: cancel, close, escalate, merge
``tasks:work``       work on one's own tasks: accept, complete, visit records
``tasks:manage``     assign, reassign and cancel tasks (centres)
``mediation``        mediate: disputes, sessions, agreements
``policing``         police data and police work
``alarms:raise``     raise video alarms (devices' bridges and analytics systems only)
``evidence:attach``  attach recordings to a case
``grid:read``        the grid registry, people and places, elements, rooms, channels
``grid:write``       change people and places of the registry (workers, rooms, rosters)
``grid:import``      import or replace grids and the city registry (city administrator)
``devices:manage``   register, configure and command video devices
``personal-data``    personal fields unmasked (names, ID numbers, phones, addresses)
``audit:read``       the audit log
===================  ================================================================
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Scope(StrEnum):
    CASES_CREATE = "cases:create"
    CASES_READ = "cases:read"
    CASES_MANAGE = "cases:manage"
    TASKS_WORK = "tasks:work"
    TASKS_MANAGE = "tasks:manage"
    MEDIATION = "mediation"
    POLICING = "policing"
    ALARMS_RAISE = "alarms:raise"
    EVIDENCE_ATTACH = "evidence:attach"
    GRID_READ = "grid:read"
    GRID_WRITE = "grid:write"
    GRID_IMPORT = "grid:import"
    DEVICES_MANAGE = "devices:manage"
    PERSONAL_DATA = "personal-data"
    AUDIT_READ = "audit:read"


ALL_SCOPES: frozenset[str] = frozenset(scope.value for scope in Scope)


class Role(StrEnum):
    """Roles as the identity provider names them (realm roles in Keycloak)."""

    WINDOW_CLERK = "window-clerk"
    GRID_WORKER = "grid-worker"
    COMMUNITY_CENTRE = "community-centre"
    TOWNSHIP_CENTRE = "township-centre"
    COUNTY_CENTRE = "county-centre"
    CITY_CENTRE = "city-centre"
    MEDIATOR = "mediator"
    POLICE_OFFICER = "police-officer"
    DEPARTMENT = "department"
    AUDITOR = "auditor"
    ADMINISTRATOR = "administrator"
    # Systems (confidential clients / API keys), not people.
    OPEN311_CLIENT = "open311-client"
    GOVERNMENT_SYSTEM = "government-system"
    VIDEO_ANALYTICS = "video-analytics"


S = Scope
_CENTRE = frozenset(
    {S.CASES_CREATE, S.CASES_READ, S.CASES_MANAGE, S.TASKS_MANAGE, S.GRID_READ, S.GRID_WRITE, S.PERSONAL_DATA}
)

ROLE_SCOPES: dict[Role, frozenset[str]] = {
    Role.WINDOW_CLERK: frozenset({S.CASES_CREATE, S.CASES_READ, S.GRID_READ}),
    Role.GRID_WORKER: frozenset({S.CASES_CREATE, S.CASES_READ, S.TASKS_WORK, S.GRID_READ}),
    Role.COMMUNITY_CENTRE: _CENTRE,
    Role.TOWNSHIP_CENTRE: _CENTRE,
    Role.COUNTY_CENTRE: _CENTRE,
    Role.CITY_CENTRE: _CENTRE | {S.EVIDENCE_ATTACH},
    Role.MEDIATOR: frozenset({S.CASES_READ, S.MEDIATION, S.PERSONAL_DATA, S.GRID_READ}),
    Role.POLICE_OFFICER: frozenset({S.CASES_READ, S.POLICING, S.PERSONAL_DATA, S.GRID_READ, S.EVIDENCE_ATTACH}),
    Role.DEPARTMENT: frozenset({S.CASES_READ, S.TASKS_WORK, S.GRID_READ}),
    Role.AUDITOR: frozenset({S.AUDIT_READ, S.CASES_READ, S.GRID_READ}),
    Role.ADMINISTRATOR: ALL_SCOPES,
    Role.OPEN311_CLIENT: frozenset({S.CASES_CREATE, S.CASES_READ}),
    Role.GOVERNMENT_SYSTEM: frozenset({S.CASES_CREATE, S.CASES_READ}),
    Role.VIDEO_ANALYTICS: frozenset({S.ALARMS_RAISE}),
}


def scopes_for(roles: Iterable[str]) -> frozenset[str]:
    """The union of the scopes of the roles a token names; unknown roles give nothing."""
    granted: set[str] = set()
    for name in roles:
        try:
            granted |= {str(scope) for scope in ROLE_SCOPES[Role(name)]}
        except ValueError:
            continue
    return frozenset(granted)
