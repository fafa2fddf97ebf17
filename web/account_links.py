"""Accounts managed from the accounts page: who may give which role, and the links of a partner
to its organisation and of a funder to its programmes.

Coordinators manage partner and funder accounts; administrators manage every account. Nobody
changes their own role. Each change is an event of its own transaction (no device).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

import msgspec
from piccolo.apps.user.tables import BaseUser

from inventory.clock import now
from inventory.commands import checked
from inventory.db import write_transaction
from inventory.devices import write_event
from inventory.errors import Conflict, FieldInvalid, Invalid, NotFound
from loans.tables import Organisation, Programme
from web.accounts import Principal, create_user
from web.roles import ROLE_LABELS_FR, Role
from web.tables import FunderProgramme, StaffRole

# Roles a coordinator may give and manage; an administrator manages all of them.
COORDINATOR_MANAGES = frozenset({Role.partner, Role.funder})


class NotAllowed(Invalid):
    """The caller's role does not allow this change to this account (HTTP 403)."""

    status_code = 403


Id = Annotated[int, msgspec.Meta(ge=1)]


class NewAccount(msgspec.Struct, forbid_unknown_fields=True):
    """An account made from the accounts page (the password rules are in `create_user`)."""

    username: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    password: Annotated[str, msgspec.Meta(max_length=200)]
    role: Role
    organisation_id: Id | None = None

    field_labels: ClassVar[dict[str, str]] = {
        "username": "Nom d'utilisateur",
        "password": "Mot de passe",
        "role": "Rôle",
        "organisation_id": "Organisation",
    }


class RoleChange(msgspec.Struct, forbid_unknown_fields=True):
    """Give an account another role."""

    role: Role

    field_labels: ClassVar[dict[str, str]] = {"role": "Rôle"}


class OrganisationLink(msgspec.Struct, forbid_unknown_fields=True):
    """Link a partner account to its organisation (none: unlinked)."""

    organisation_id: Id | None = None

    field_labels: ClassVar[dict[str, str]] = {"organisation_id": "Organisation"}


class ProgrammeLink(msgspec.Struct, forbid_unknown_fields=True):
    """Let a funder account read one more programme's reports."""

    programme_id: Id

    field_labels: ClassVar[dict[str, str]] = {"programme_id": "Programme"}


def roles_managed_by(actor: Principal) -> list[Role]:
    """The roles this caller may give, in the order of the role list."""
    if actor.role == Role.admin:
        return list(Role)
    if actor.role == Role.coordinator:
        return [role for role in Role if role in COORDINATOR_MANAGES]
    return []


def _check_gives(actor: Principal, role: Role) -> None:
    if role not in roles_managed_by(actor):
        raise NotAllowed(
            f"Votre rôle ne permet pas de donner le rôle « {ROLE_LABELS_FR[role]} » : un "
            "coordinateur gère les comptes de partenaires et de financeurs."
        )


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise FieldInvalid("role", "Rôle : choisissez-en un dans la liste.") from None


async def get_account(user_id: int) -> dict[str, Any]:
    """One account: its name, role, organisation (partner) and programmes (funder)."""
    row = await (
        StaffRole.select(
            StaffRole.user.id.as_alias("user_id"),
            StaffRole.user.username.as_alias("username"),
            StaffRole.user.active.as_alias("active"),
            StaffRole.role,
            StaffRole.organisation.id.as_alias("organisation_id"),
            StaffRole.organisation.name.as_alias("organisation_name"),
        )
        .where(StaffRole.user == user_id)
        .first()
    )
    if row is None:
        raise NotFound(f"Compte {user_id} inconnu.")
    row["programmes"] = (await _programmes_of([user_id])).get(user_id, [])
    return row


async def _programmes_of(user_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    if not user_ids:
        return {}
    rows = await (
        FunderProgramme.select(
            FunderProgramme.user,
            FunderProgramme.programme.id.as_alias("id"),
            FunderProgramme.programme.name.as_alias("name"),
        )
        .where(FunderProgramme.user.is_in(user_ids))
        .order_by(FunderProgramme.programme.name)
    )
    found: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        found.setdefault(row["user"], []).append({"id": row["id"], "name": row["name"]})
    return found


async def list_accounts() -> list[dict[str, Any]]:
    """Every account, by name, with its role, organisation and programmes."""
    rows = await StaffRole.select(
        StaffRole.user.id.as_alias("user_id"),
        StaffRole.user.username.as_alias("username"),
        StaffRole.user.active.as_alias("active"),
        StaffRole.role,
        StaffRole.organisation.id.as_alias("organisation_id"),
        StaffRole.organisation.name.as_alias("organisation_name"),
    ).order_by(StaffRole.user.username)
    programmes = await _programmes_of([row["user_id"] for row in rows])
    for row in rows:
        row["programmes"] = programmes.get(row["user_id"], [])
    return rows


def may_manage(actor: Principal, account: dict[str, Any]) -> bool:
    """Whether this caller may change this account (never its own role)."""
    return _role(account["role"]) in roles_managed_by(actor)


def _check_manages(actor: Principal, account: dict[str, Any]) -> None:
    if not may_manage(actor, account):
        raise NotAllowed(
            f"Votre rôle ne permet pas de modifier le compte « {account['username']} » "
            f"({ROLE_LABELS_FR[_role(account['role'])]})."
        )


async def _organisation(organisation_id: int) -> dict[str, Any]:
    row = await (
        Organisation.select(Organisation.id, Organisation.name)
        .where((Organisation.id == organisation_id) & Organisation.archived_at.is_null())
        .first()
    )
    if row is None:
        raise FieldInvalid("organisation_id", "Organisation : choisissez-en une dans la liste.")
    return row


async def create_account(actor: Principal, new: NewAccount) -> int:
    """Create an account with a role the caller may give; a partner may get its organisation."""
    new = checked(new)
    role = _role(new.role)
    _check_gives(actor, role)
    organisation_id = new.organisation_id
    if organisation_id is not None:
        if role != Role.partner:
            raise FieldInvalid(
                "organisation_id", "Seul un compte partenaire est rattaché à une organisation."
            )
        await _organisation(organisation_id)
    return await create_user(
        new.username, new.password, role, actor=actor.actor, organisation_id=organisation_id
    )


async def change_role(actor: Principal, user_id: int, role_value: str) -> dict[str, Any]:
    """Give an account another role; links that no longer apply are removed with it."""
    role = _role(role_value)
    if actor.user_id == user_id:
        raise NotAllowed("Personne ne change son propre rôle : demandez-le à un administrateur.")
    async with write_transaction(StaffRole):
        account = await get_account(user_id)
        _check_manages(actor, account)
        _check_gives(actor, role)
        if account["role"] == role:
            return account
        changes: dict[Any, Any] = {StaffRole.role: role}
        if role != Role.partner:
            changes[StaffRole.organisation] = None
        await StaffRole.update(changes).where(StaffRole.user == user_id)
        # piccolo-admin's own flags follow the role, as when the account was made.
        await BaseUser.update(
            {
                BaseUser.admin: role in (Role.admin, Role.coordinator),
                BaseUser.superuser: role == Role.admin,
            }
        ).where(BaseUser.id == user_id)
        removed = []
        if role != Role.funder and account["programmes"]:
            removed = [p["id"] for p in account["programmes"]]
            await FunderProgramme.delete().where(FunderProgramme.user == user_id)
        await write_event(
            None,
            actor.actor,
            "account_role_changed",
            None,
            None,
            {
                "user_id": user_id,
                "username": account["username"],
                "from": account["role"],
                "to": role.value,
                "organisation_removed": account["organisation_id"]
                if role != Role.partner
                else None,
                "programmes_removed": removed,
            },
        )
    return await get_account(user_id)


async def link_organisation(
    actor: Principal, user_id: int, organisation_id: int | None
) -> dict[str, Any]:
    """Link a partner account to its one organisation (None: no organisation)."""
    async with write_transaction(StaffRole):
        account = await get_account(user_id)
        _check_manages(actor, account)
        if account["role"] != Role.partner:
            raise Invalid("Seul un compte partenaire est rattaché à une organisation.")
        name = None
        if organisation_id is not None:
            name = (await _organisation(organisation_id))["name"]
        if account["organisation_id"] == organisation_id:
            return account
        await StaffRole.update({StaffRole.organisation: organisation_id}).where(
            StaffRole.user == user_id
        )
        await write_event(
            None,
            actor.actor,
            "partner_organisation_linked",
            None,
            None,
            {
                "user_id": user_id,
                "username": account["username"],
                "organisation_id": organisation_id,
                "organisation": name,
                "previous_organisation_id": account["organisation_id"],
            },
        )
    return await get_account(user_id)


async def link_programme(actor: Principal, user_id: int, programme_id: int) -> dict[str, Any]:
    """Let a funder account read the reports of one more programme."""
    async with write_transaction(FunderProgramme):
        account = await get_account(user_id)
        _check_manages(actor, account)
        if account["role"] != Role.funder:
            raise Invalid("Seul un compte financeur est rattaché à des programmes.")
        programme = await (
            Programme.select(Programme.id, Programme.name)
            .where(Programme.id == programme_id)
            .first()
        )
        if programme is None:
            raise FieldInvalid("programme_id", "Programme : choisissez-en un dans la liste.")
        if any(p["id"] == programme_id for p in account["programmes"]):
            raise Conflict(f"Le programme « {programme['name']} » est déjà rattaché à ce compte.")
        await FunderProgramme.insert(
            FunderProgramme(
                user=user_id,
                programme=programme_id,
                created_at=now(),
                created_by=actor.actor,
            )
        )
        await write_event(
            None,
            actor.actor,
            "funder_programme_linked",
            None,
            None,
            {
                "user_id": user_id,
                "username": account["username"],
                "programme_id": programme_id,
                "programme": programme["name"],
            },
        )
    return await get_account(user_id)


async def unlink_programme(actor: Principal, user_id: int, programme_id: int) -> dict[str, Any]:
    """The funder account no longer reads this programme's reports."""
    async with write_transaction(FunderProgramme):
        account = await get_account(user_id)
        _check_manages(actor, account)
        linked = next((p for p in account["programmes"] if p["id"] == programme_id), None)
        if linked is None:
            raise NotFound("Ce programme n'est pas rattaché à ce compte.")
        await FunderProgramme.delete().where(
            (FunderProgramme.user == user_id) & (FunderProgramme.programme == programme_id)
        )
        await write_event(
            None,
            actor.actor,
            "funder_programme_unlinked",
            None,
            None,
            {
                "user_id": user_id,
                "username": account["username"],
                "programme_id": programme_id,
                "programme": linked["name"],
            },
        )
    return await get_account(user_id)


async def partner_organisation(principal: Principal) -> dict[str, Any] | None:
    """The organisation a partner account acts for, or None when none is linked."""
    if principal.role != Role.partner or principal.user_id is None:
        return None
    row = await (
        StaffRole.select(StaffRole.organisation).where(StaffRole.user == principal.user_id).first()
    )
    if row is None or row["organisation"] is None:
        return None
    return await Organisation.select().where(Organisation.id == row["organisation"]).first()
