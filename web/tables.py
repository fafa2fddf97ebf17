"""Piccolo tables of the web app: a person's role, and bearer tokens for stations and scripts."""

from piccolo.apps.user.tables import BaseUser
from piccolo.columns import ForeignKey, Timestamptz, Varchar
from piccolo.table import Table

from web.roles import Role


class StaffRole(Table):
    """The role of a person who logs in (Piccolo's BaseUser holds the name and password hash)."""

    user = ForeignKey(references=BaseUser, unique=True, null=False)
    role = Varchar(length=20, choices=Role)


class ApiToken(Table):
    """A bearer token for a station or a script; only its SHA-256 is stored."""

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

    username = Varchar(length=100, index=True)
    address = Varchar(length=64, index=True)
    at = Timestamptz()
