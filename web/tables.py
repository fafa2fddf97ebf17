"""Piccolo tables of the web app: a person's role, and bearer tokens for stations and scripts."""

from piccolo.apps.user.tables import BaseUser
from piccolo.columns import ForeignKey, Serial, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from loans.tables import Organisation, Programme
from web.roles import Role


class StaffRole(Table):
    """The role of a person who logs in (Piccolo's BaseUser holds the name and password hash)."""

    id: Serial

    user = ForeignKey(references=BaseUser, unique=True, null=False)
    role = Varchar(length=20, choices=Role)
    # A partner account acts for one organisation (a school, a social centre) and sees only its own.
    organisation = ForeignKey(references=Organisation, on_delete=OnDelete.restrict, null=True)


class FunderProgramme(Table):
    """A funder account may read the reports of the programmes linked to it here, and no others."""

    id: Serial

    user = ForeignKey(references=BaseUser, on_delete=OnDelete.restrict, null=False, index=True)
    programme = ForeignKey(references=Programme, on_delete=OnDelete.restrict, null=False)
    created_at = Timestamptz()
    created_by = Varchar(length=120, default="")


class ApiToken(Table):
    """A bearer token for a station or a script; only its SHA-256 is stored."""

    id: Serial

    name = Varchar(length=80)
    role = Varchar(length=20, choices=Role)
    token_sha256 = Varchar(length=64, unique=True)
    created_at = Timestamptz()
    revoked_at = Timestamptz(null=True, default=None)


class LoginFailure(Table):
    """A failed login, by the name typed and the caller's address: slows then stops guessing.

    Kept in the database so every web worker counts the same failures; rows older than the
    throttling window are forgotten, and an unlock removes them.
    """

    id: Serial

    username = Varchar(length=100, index=True)
    address = Varchar(length=64, index=True)
    at = Timestamptz()
