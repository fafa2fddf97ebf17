"""People and tokens: creating them, checking passwords, opening and closing sessions."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from piccolo.apps.user.tables import BaseUser
from piccolo_api.session_auth.tables import SessionsBase

from inventory.db import write_transaction
from inventory.errors import Invalid
from web.roles import Role
from web.tables import ApiToken, StaffRole

SESSION_IDLE = timedelta(hours=12)
SESSION_MAX = timedelta(days=7)
TOKEN_PREFIX = "rmp_"


@dataclass(frozen=True)
class Principal:
    """Who is calling: a person with a session, or a station or script with a token."""

    name: str
    role: Role
    user_id: int | None = None

    @property
    def actor(self) -> str:
        return self.name if self.user_id is not None else f"token:{self.name}"


def _check_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise Invalid(f"Rôle inconnu « {role} » ; rôles : {', '.join(Role)}.") from None


async def create_user(username: str, password: str, role: str) -> int:
    """A person who logs in; the password is hashed by Piccolo's BaseUser (PBKDF2-SHA256)."""
    checked = _check_role(role)
    username = username.strip()
    if not username or len(username) > 100:
        raise Invalid("Le nom d'utilisateur doit compter de 1 à 100 caractères.")
    if len(password) < 10:
        raise Invalid("Le mot de passe doit compter au moins 10 caractères.")
    if await BaseUser.exists().where(BaseUser.username == username):
        raise Invalid(f"L'utilisateur « {username} » existe déjà.")
    async with write_transaction(BaseUser):
        user = await BaseUser.create_user(
            username=username,
            password=password,
            # BaseUser.email is unique; people here log in by name, so each gets a placeholder.
            email=f"{username}@users.reemploi.invalid",
            active=True,
            # piccolo-admin lets in `admin` users; only admins may edit accounts there.
            admin=checked in (Role.admin, Role.coordinator),
            superuser=checked == Role.admin,
        )
        await StaffRole.insert(StaffRole(user=user.id, role=checked))
    return user.id


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_token(name: str, role: str) -> str:
    """A new bearer token; it is shown once, and only its digest is kept."""
    checked = _check_role(role)
    name = name.strip()
    if not name or len(name) > 80:
        raise Invalid("Le nom du jeton doit compter de 1 à 80 caractères.")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    await ApiToken.insert(
        ApiToken(
            name=name,
            role=checked,
            token_sha256=_token_digest(token),
            created_at=datetime.now(UTC),
        )
    )
    return token


async def principal_for_token(token: str) -> Principal | None:
    row = (
        await ApiToken.select(ApiToken.name, ApiToken.role)
        .where((ApiToken.token_sha256 == _token_digest(token)) & ApiToken.revoked_at.is_null())
        .first()
    )
    return Principal(name=row["name"], role=Role(row["role"])) if row else None


async def principal_for_user(user_id: int) -> Principal | None:
    row = (
        await StaffRole.select(StaffRole.role, StaffRole.user.username, StaffRole.user.active)
        .where(StaffRole.user == user_id)
        .first()
    )
    if not row or not row["user.active"]:
        return None
    return Principal(name=row["user.username"], role=Role(row["role"]), user_id=user_id)


async def open_session(username: str, password: str) -> str | None:
    """A session token for valid credentials, or None (the caller says why, once, vaguely)."""
    user_id = await BaseUser.login(username=username.strip(), password=password)
    if user_id is None or await principal_for_user(user_id) is None:
        return None
    now = datetime.now()
    session = await SessionsBase.create_session(
        user_id=user_id, expiry_date=now + SESSION_IDLE, max_expiry_date=now + SESSION_MAX
    )
    return session.token


async def session_principal(token: str) -> Principal | None:
    user_id = await SessionsBase.get_user_id(token, increase_expiry=timedelta(hours=1))
    return await principal_for_user(user_id) if user_id else None


async def close_session(token: str) -> None:
    await SessionsBase.remove_session(token)
