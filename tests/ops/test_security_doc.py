"""docs/security.md and the development Keycloak realm say what the code does: the role → scope
table on the page and the realm's roles are generated from govmesh_runtime.roles, and these
tests fail when either file is stale."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

from govmesh_runtime.roles import ROLE_SCOPES, Role

ROOT = Path(__file__).resolve().parents[2]


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_role_scope_table_of_docs_security_is_the_code() -> None:
    roles_table = load(ROOT / "docs" / "roles_table.py")
    page = (ROOT / "docs" / "security.md").read_text()
    assert roles_table.render(page) == page, "run: python docs/roles_table.py write"
    for role, scopes in ROLE_SCOPES.items():
        row = next(line for line in page.splitlines() if line.startswith(f"| `{role}` |"))
        assert {cell.strip("` ") for cell in row.split("|")[3].split(",")} == set(scopes), role


def test_the_keycloak_realm_has_exactly_the_mesh_roles() -> None:
    realm_module = load(ROOT / "infra" / "keycloak" / "realm.py")
    committed = (ROOT / "infra" / "keycloak" / "govmesh-realm.json").read_text()
    assert realm_module.render() == committed, "run: python infra/keycloak/realm.py write"
    realm = json.loads(committed)
    assert [role["name"] for role in realm["roles"]["realm"]] == [role.value for role in Role]
    # Every demo user and service account holds only roles of the table.
    assert {name for user in realm["users"] for name in user["realmRoles"]} <= {role.value for role in Role}
    console = next(client for client in realm["clients"] if client["clientId"] == "govmesh-console")
    assert console["publicClient"] and console["attributes"]["pkce.code.challenge.method"] == "S256"
