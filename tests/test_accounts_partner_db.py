"""Roles that work (issue 12): accounts and their links, funder visibility by the real relation,
a partner's own organisation and its signature, refusals that change nothing."""

from __future__ import annotations

from typing import Any

import pytest

from inventory.errors import Conflict, Invalid, NotFound
from inventory.tables import Event
from tests.partner_world import PARTNER_PASSWORD, link_ids, two_organisations
from tests.support import ready_devices, run, signature_png
from web import account_links
from web.account_links import NewAccount, NotAllowed
from web.accounts import Principal, create_user, open_session
from web.roles import Role
from web.tables import FunderProgramme, StaffRole

pytestmark = pytest.mark.db


def principal(name: str, role: Role, user_id: int | None) -> Principal:
    return Principal(name=name, role=role, user_id=user_id)


@pytest.fixture
def people(db: None) -> dict[str, Principal]:
    admin = run(create_user("admin", PARTNER_PASSWORD, "admin"))
    coordinator = run(create_user("coordinatrice", PARTNER_PASSWORD, "coordinator"))
    return {
        "admin": principal("admin", Role.admin, admin),
        "coordinator": principal("coordinatrice", Role.coordinator, coordinator),
    }


def log_in(client: Any, username: str) -> str:
    """Open a session through /login as a browser does; return the CSRF cookie's value."""
    client.get("/login")
    csrf = client.cookies.get("reemploi_csrf")
    answer = client.post(
        "/login",
        data={"username": username, "password": PARTNER_PASSWORD, "_csrf_token": csrf},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return csrf


def events(kind: str) -> list[dict[str, Any]]:
    return run(Event.select().where(Event.kind == kind).output(load_json=True))


def test_a_coordinator_creates_partner_and_funder_accounts_only(people: dict) -> None:
    coordinator = people["coordinator"]
    world = run(two_organisations())
    partner_id = run(
        account_links.create_account(
            coordinator, NewAccount("ecole", PARTNER_PASSWORD, "partner", world["school"]["id"])
        )
    )
    funder_id = run(
        account_links.create_account(coordinator, NewAccount("rhone", PARTNER_PASSWORD, "funder"))
    )
    partner = run(account_links.get_account(partner_id))
    assert partner["role"] == "partner" and partner["organisation_id"] == world["school"]["id"]
    assert run(account_links.get_account(funder_id))["role"] == "funder"
    created = events("account_created")
    assert {e["payload"]["username"] for e in created} == {"ecole", "rhone"}
    assert all(e["device"] is None and e["actor"] == "coordinatrice" for e in created)
    before = run(StaffRole.count())
    for role in ("admin", "coordinator", "technician", "mediator"):
        with pytest.raises(NotAllowed):
            run(account_links.create_account(coordinator, NewAccount(role, PARTNER_PASSWORD, role)))
    with pytest.raises(Invalid):  # an organisation is for a partner account only
        run(
            account_links.create_account(
                coordinator,
                NewAccount("x-funder", PARTNER_PASSWORD, "funder", world["school"]["id"]),
            )
        )
    assert run(StaffRole.count()) == before and len(events("account_created")) == 2
    # An administrator gives any role.
    made = run(
        account_links.create_account(
            people["admin"], NewAccount("coord2", PARTNER_PASSWORD, "coordinator")
        )
    )
    assert run(account_links.get_account(made))["role"] == "coordinator"


def test_roles_change_within_the_rules(people: dict) -> None:
    coordinator, admin = people["coordinator"], people["admin"]
    partner_id = run(create_user("ecole", PARTNER_PASSWORD, "partner"))
    tech_id = run(create_user("tech", PARTNER_PASSWORD, "technician"))
    # Nobody changes their own role, not even an administrator.
    for who in (coordinator, admin):
        with pytest.raises(NotAllowed):
            run(account_links.change_role(who, who.user_id, "admin"))
    # A coordinator does not touch staff accounts nor gives staff roles.
    with pytest.raises(NotAllowed):
        run(account_links.change_role(coordinator, tech_id, "funder"))
    with pytest.raises(NotAllowed):
        run(account_links.change_role(coordinator, admin.user_id, "partner"))
    with pytest.raises(NotAllowed):
        run(account_links.change_role(coordinator, partner_id, "coordinator"))
    assert not events("account_role_changed")
    changed = run(account_links.change_role(coordinator, partner_id, "funder"))
    assert changed["role"] == "funder"
    [event] = events("account_role_changed")
    assert event["payload"]["from"] == "partner" and event["payload"]["to"] == "funder"
    assert run(account_links.change_role(admin, tech_id, "mediator"))["role"] == "mediator"
    # piccolo-admin's flags follow the role.
    from piccolo.apps.user.tables import BaseUser

    run(account_links.change_role(admin, tech_id, "coordinator"))
    flags = run(BaseUser.select(BaseUser.admin, BaseUser.superuser).where(BaseUser.id == tech_id))
    assert flags == [{"admin": True, "superuser": False}]


def test_links_of_partners_and_funders(people: dict) -> None:
    coordinator = people["coordinator"]
    world = run(two_organisations())
    partner_id = run(create_user("ecole", PARTNER_PASSWORD, "partner"))
    funder_id = run(create_user("rhone", PARTNER_PASSWORD, "funder"))
    programme = world["programme"]["id"]
    linked = run(account_links.link_organisation(coordinator, partner_id, world["school"]["id"]))
    assert linked["organisation_name"] == "École Jean Moulin"
    with pytest.raises(Invalid):  # a funder has no organisation
        run(account_links.link_organisation(coordinator, funder_id, world["school"]["id"]))
    with pytest.raises(Invalid):  # a partner has no programme
        run(account_links.link_programme(coordinator, partner_id, programme))
    with pytest.raises(NotAllowed):  # a coordinator's account is not the coordinator's to link
        run(
            account_links.link_organisation(
                coordinator, people["admin"].user_id, world["school"]["id"]
            )
        )
    account = run(account_links.link_programme(coordinator, funder_id, programme))
    assert [p["id"] for p in account["programmes"]] == [programme]
    with pytest.raises(Conflict):
        run(account_links.link_programme(coordinator, funder_id, programme))
    assert run(FunderProgramme.count()) == 1
    row = run(FunderProgramme.select().first())
    assert row["created_by"] == "coordinatrice" and row["created_at"] is not None
    run(account_links.unlink_programme(coordinator, funder_id, programme))
    with pytest.raises(NotFound):
        run(account_links.unlink_programme(coordinator, funder_id, programme))
    kinds = [e["kind"] for e in run(Event.select(Event.kind).where(Event.device.is_null()))]
    assert kinds.count("partner_organisation_linked") == 1
    assert kinds.count("funder_programme_linked") == 1
    assert kinds.count("funder_programme_unlinked") == 1
    # Leaving the partner role removes the organisation with it.
    run(account_links.change_role(coordinator, partner_id, "funder"))
    assert run(account_links.get_account(partner_id))["organisation_id"] is None


def test_a_funder_sees_the_programmes_linked_to_its_account(people: dict) -> None:
    from loans import borrowers
    from web.report_readers import programmes_visible_to

    coordinator = people["coordinator"]
    run(borrowers.create_programme("Équiper les familles", "rhone"))
    p2 = run(borrowers.create_programme("Fondation Numérique", "Fondation"))
    rhone = run(create_user("rhone", PARTNER_PASSWORD, "funder"))
    other = run(create_user("autre", PARTNER_PASSWORD, "funder"))
    run(account_links.link_programme(coordinator, rhone, p2["id"]))
    # The free-text `funder` field no longer decides: "rhone" reads p2 (linked), not p1.
    seen = run(programmes_visible_to(principal("rhone", Role.funder, rhone)))
    assert [p["id"] for p in seen] == [p2["id"]]
    assert run(programmes_visible_to(principal("autre", Role.funder, other))) == []
    assert run(programmes_visible_to(principal("rhone", Role.funder, None))) == []  # a token
    assert len(run(programmes_visible_to(coordinator))) == 2
    assert run(programmes_visible_to(principal("x", Role.partner, 99))) == []


def test_a_partner_sees_its_own_organisation_only(people: dict) -> None:
    from loans import partners

    world = run(two_organisations())
    school, centre = world["school"]["id"], world["centre"]["id"]
    loans = run(partners.loans_of(school))
    assert [loan["id"] for loan in loans] == [world["pupil_loan"]["id"]]
    assert [d["asset_tag"] for d in loans[0]["devices"]] == [world["tags"][1]]
    assert world["centre_loan"]["id"] not in {loan["id"] for loan in loans}
    sessions = run(partners.sessions_of(school))
    assert {s["status"] for s in sessions} == {"planned", "done"}
    assert {s["borrower_code"] for s in sessions} == {world["pupil"]["code"]}
    pending = run(partners.pending_requests(school))
    assert [p["borrower_code"] for p in pending] == [world["school_borrower"]["code"]]
    assert [p["borrower_code"] for p in run(partners.pending_requests(centre))] == [
        world["centre_borrower"]["code"]
    ]
    summary = run(partners.summary(school))
    assert summary == {
        "open_loans": 1,
        "devices_out": 1,
        "planned_sessions": 1,
        "pending_signatures": 1,
    }


def link_signature(name: str, role: str) -> Any:
    from loans import checkout

    return checkout.SignatureIn(checkout.SignatureMethod.link, signature_png(), name, role)  # type: ignore[arg-type]


def test_a_partner_signs_its_class_set_loan_and_no_other(people: dict) -> None:
    from loans import partners
    from loans.tables import Loan, SigningLink

    world = run(two_organisations())
    school = world["school"]["id"]
    ids = run(link_ids())
    mine, theirs = ids[world["school_borrower"]["id"]], ids[world["centre_borrower"]["id"]]
    loans_before = run(Loan.count())
    with pytest.raises(NotFound):
        run(partners.open_request(theirs, school))
    with pytest.raises(NotFound):
        run(
            partners.sign_request(
                theirs, school, link_signature("Dir", "school_representative"), "ecole"
            )
        )
    with pytest.raises(Invalid):  # an organisation signs through its representative
        run(partners.sign_request(mine, school, link_signature("Dir", "self"), "ecole"))
    assert run(Loan.count()) == loans_before
    assert run(SigningLink.count().where(SigningLink.used_at.is_not_null())) == 0
    loan = run(
        partners.sign_request(
            mine, school, link_signature("Claire Dubois", "school_representative"), "ecole"
        )
    )
    assert run(Loan.count()) == loans_before + 1
    row = run(SigningLink.select().where(SigningLink.id == mine).first())
    assert row["used_at"] is not None and row["loan_id"] == loan["id"]
    with pytest.raises(Conflict):
        run(partners.sign_request(mine, school, link_signature("C", "school_representative"), "e"))
    assert run(partners.pending_requests(school)) == []
    assert {loan["id"] for loan in run(partners.loans_of(school))} >= {loan["id"]}


def test_partner_pages_reach_nothing_of_another_organisation(people: dict, client: Any) -> None:
    world = run(two_organisations())
    run(
        account_links.link_organisation(
            people["coordinator"],
            run(create_user("ecole", PARTNER_PASSWORD, "partner")),
            world["school"]["id"],
        )
    )
    run(create_user("sans-orga", PARTNER_PASSWORD, "partner"))
    cookie = {"Cookie": f"reemploi_session={run(open_session('ecole', PARTNER_PASSWORD))}"}
    page = client.get("/partner", headers=cookie)
    assert page.status_code == 200
    assert world["pupil"]["code"] in page.text and world["tags"][1] in page.text
    for hidden in (
        world["centre_borrower"]["code"],
        world["tags"][0],
        world["tags"][4],
        "Léa Martinez",
        "06 98 76 54 32",
        "Centre social des Pentes",
    ):
        assert hidden not in page.text
    ids = run(link_ids())
    theirs = ids[world["centre_borrower"]["id"]]
    assert client.get(f"/partner/sign/{theirs}", headers=cookie).status_code == 404
    mine = ids[world["school_borrower"]["id"]]
    assert client.get(f"/partner/sign/{mine}", headers=cookie).status_code == 200
    for path in (
        "/devices",
        "/loans",
        "/accounts",
        "/reports",
        f"/loans/{world['centre_loan']['id']}",
    ):
        assert client.get(path, headers=cookie).status_code == 403, path
    lonely = {"Cookie": f"reemploi_session={run(open_session('sans-orga', PARTNER_PASSWORD))}"}
    page = client.get("/partner", headers=lonely)
    assert page.status_code == 200 and "rattaché à aucune organisation" in page.text
    assert client.get(f"/partner/sign/{mine}", headers=lonely).status_code == 404


def test_the_accounts_page_refuses_with_a_sentence(people: dict, client: Any) -> None:
    csrf = log_in(client, "coordinatrice")
    cookie: dict[str, str] = {}
    page = client.get("/accounts")
    assert page.status_code == 200 and "coordinatrice" in page.text
    refused = client.post(
        "/accounts",
        data={
            "username": "nouvel-admin",
            "password": PARTNER_PASSWORD,
            "role": "admin",
            "_csrf_token": csrf,
        },
        headers=cookie,
    )
    assert refused.status_code == 403 and "nouvel-admin" in refused.text
    assert "Traceback" not in refused.text
    assert run(StaffRole.count()) == 2
    short = client.post(
        "/accounts",
        data={"username": "ecole", "password": "court", "role": "partner", "_csrf_token": csrf},
        headers=cookie,
    )
    assert short.status_code == 422 and 'aria-invalid="true"' in short.text
    assert "10 caractères" in short.text and run(StaffRole.count()) == 2
    own = client.post(
        f"/accounts/{people['coordinator'].user_id}/role",
        data={"role": "admin", "_csrf_token": csrf},
        headers=cookie,
    )
    assert own.status_code == 403 and "propre rôle" in own.text


def test_a_request_for_an_organisation_without_a_borrower_record(people: dict) -> None:
    """A link prepared for an organisation that has no borrower record yet (the record is made
    with the loan) belongs to that organisation's partner, and to no other."""
    from loans import borrowers, checkout, partners, signing

    world = run(two_organisations())
    college = run(borrowers.create_organisation("Collège Victor Hugo", "college", "Lyon", "69123"))
    tags = run(ready_devices(1))
    run(
        signing.create_link(
            checkout.CheckoutIn(
                borrower_id=None,
                new_borrower=borrowers.BorrowerIn(
                    kind="organisation", organisation_id=college["id"]
                ),
                tags=tags,
            ),
            "mediatrice",
        )
    )
    [pending] = run(partners.pending_requests(college["id"]))
    assert pending["tags"] == tags
    assert all(p["tags"] != tags for p in run(partners.pending_requests(world["school"]["id"])))
    with pytest.raises(NotFound):
        run(partners.open_request(pending["id"], world["school"]["id"]))
    loan = run(
        partners.sign_request(
            pending["id"], college["id"], link_signature("M. Hugo", "school_representative"), "c"
        )
    )
    assert [row["id"] for row in run(partners.loans_of(college["id"]))] == [loan["id"]]
