"""The accounts page's operations are commands (`web.account_links`): one struct each, checked
the same way whether a form or code fills it, refusals naming their field in French."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from inventory.commands import checked
from inventory.errors import FieldInvalid
from tests.partner_world import PARTNER_PASSWORD, two_organisations
from tests.support import run
from web import account_links
from web.account_links import NewAccount, NotAllowed, OrganisationLink, ProgrammeLink, RoleChange
from web.accounts import Principal, create_user
from web.forms import form_to
from web.roles import Role
from web.tables import StaffRole

pytestmark = pytest.mark.db


def log_in(client: Any, username: str) -> str:
    client.get("/login")
    csrf = client.cookies.get("reemploi_csrf")
    answer = client.post(
        "/login",
        data={"username": username, "password": PARTNER_PASSWORD, "_csrf_token": csrf},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return csrf


def test_each_command_refuses_what_it_cannot_hold() -> None:
    for struct in (NewAccount, RoleChange, OrganisationLink, ProgrammeLink):
        assert struct.__struct_config__.forbid_unknown_fields
    new = form_to(
        NewAccount,
        {"username": "ecole", "password": PARTNER_PASSWORD, "role": "partner", "_csrf_token": "x"},
    )
    assert new.role is Role.partner and new.organisation_id is None
    with pytest.raises(FieldInvalid) as bad_role:
        form_to(NewAccount, {"username": "x", "password": PARTNER_PASSWORD, "role": "root"})
    assert bad_role.value.field == "role" and str(bad_role.value).startswith("Rôle :")
    with pytest.raises(FieldInvalid) as no_name:
        form_to(NewAccount, {"username": "", "password": PARTNER_PASSWORD, "role": "partner"})
    assert no_name.value.field == "username"
    assert "Nom d'utilisateur" in str(no_name.value)
    with pytest.raises(FieldInvalid) as bad_id:
        form_to(ProgrammeLink, {"programme_id": "deux"})
    assert bad_id.value.field == "programme_id" and str(bad_id.value).startswith("Programme :")
    with pytest.raises(FieldInvalid):
        form_to(ProgrammeLink, {})
    assert form_to(OrganisationLink, {"organisation_id": ""}).organisation_id is None
    # Built by code with its constructor (which checks nothing): `checked` refuses it.
    with pytest.raises(FieldInvalid) as by_code:
        checked(NewAccount("x" * 101, PARTNER_PASSWORD, Role.partner))
    assert by_code.value.field == "username"
    with pytest.raises(FieldInvalid):
        checked(RoleChange(role="root"))  # type: ignore[arg-type]
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'{"role": "partner", "extra": 1}', type=RoleChange)


def test_the_service_checks_a_command_built_by_code(db: None) -> None:
    admin_id = run(create_user("admin", PARTNER_PASSWORD, "admin"))
    admin = Principal(name="admin", role=Role.admin, user_id=admin_id)
    with pytest.raises(FieldInvalid) as refused:
        run(account_links.create_account(admin, NewAccount("", PARTNER_PASSWORD, Role.partner)))
    assert refused.value.field == "username"
    assert run(StaffRole.count()) == 1
    assert NotAllowed.status_code == 403


def test_page_and_service_give_the_same_result(db: None, client: Any) -> None:
    run(create_user("coordinatrice", PARTNER_PASSWORD, "coordinator"))
    world = run(two_organisations())
    csrf = log_in(client, "coordinatrice")
    school = world["school"]["id"]
    made = client.post(
        "/accounts",
        data={
            "username": "ecole",
            "password": PARTNER_PASSWORD,
            "role": "partner",
            "organisation_id": str(school),
            "_csrf_token": csrf,
        },
        follow_redirects=False,
    )
    assert made.status_code == 303, made.text
    by_page = run(account_links.get_account(int(made.headers["location"].rsplit("/", 1)[1])))
    coordinator = Principal(name="c", role=Role.coordinator, user_id=None)
    by_service = run(
        account_links.get_account(
            run(
                account_links.create_account(
                    coordinator, NewAccount("ecole-2", PARTNER_PASSWORD, Role.partner, school)
                )
            )
        )
    )
    for key in ("role", "organisation_id", "organisation_name", "programmes", "active"):
        assert by_page[key] == by_service[key], key
    # The same refusal, with its field marked on the form.
    bad = client.post(
        f"/accounts/{by_page['user_id']}/organisation",
        data={"organisation_id": "abc", "_csrf_token": csrf},
    )
    assert bad.status_code == 422 and "Organisation :" in bad.text
    assert 'id="organisation_id" name="organisation_id" aria-invalid="true"' in bad.text
    wrong_role = client.post(
        "/accounts",
        data={
            "username": "x",
            "password": PARTNER_PASSWORD,
            "role": "root",
            "_csrf_token": csrf,
        },
    )
    assert wrong_role.status_code == 422
    assert 'id="role" name="role" aria-invalid="true"' in wrong_role.text
