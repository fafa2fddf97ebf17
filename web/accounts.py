"""People and tokens: creating them, checking passwords, opening and closing sessions.

Passwords stay PBKDF2-SHA256 at 600 000 iterations (Piccolo's BaseUser, OWASP's figure), hashed
and checked in a worker thread so that a login never stalls other requests. Session tokens and
bearer tokens are kept as their SHA-256 only: a copy of the database opens no session.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from piccolo.apps.user.tables import BaseUser
from piccolo_api.session_auth.tables import SessionsBase

from inventory.clock import now
from inventory.db import write_transaction
from inventory.devices import Prebuilt, write_event
from inventory.errors import Invalid, NotFound
from inventory.states import N_
from web.roles import Role
from web.tables import ApiToken, LoginFailure, StaffRole

T = TypeVar("T")

SESSION_IDLE = timedelta(hours=12)
SESSION_MAX = timedelta(days=7)
TOKEN_PREFIX = "rmp_"

# Throttling: failures are counted over the last hour, per account and per address.
FAILURE_WINDOW = timedelta(hours=1)
FREE_FAILURES = 3  # typos cost nothing
ACCOUNT_LOCK = 10  # then the account is locked until the failures age out or an admin unlocks it
ADDRESS_LOCK = 30  # failures from one address across accounts (an office shares its address)
MAX_DELAY = timedelta(minutes=5)

ACCOUNT_LOCKED = N_(
    "Ce compte est verrouillé après 10 échecs de connexion en moins d'une heure. Réessayez "
    "dans une heure, ou demandez à un administrateur de le déverrouiller."
)
ADDRESS_LOCKED = N_(
    "Trop d'échecs de connexion depuis votre adresse en moins d'une heure : les connexions en "
    "sont suspendues. Réessayez dans une heure, ou demandez à un administrateur de la "
    "déverrouiller."
)
SLOW_DOWN = N_(
    "Plusieurs échecs de connexion pour ce compte : patientez quelques secondes avant de "
    "réessayer (l'attente double à chaque nouvel échec)."
)

log = logging.getLogger("reemploi.web")

# PBKDF2 releases the GIL: hashing in these threads leaves the event loop free. One core stays
# for the loop, so logins queue here rather than slow every other request.
_HASHING = ThreadPoolExecutor(
    max_workers=max(1, (os.cpu_count() or 2) - 1), thread_name_prefix="password-hash"
)


async def _hashing(function: Callable[..., T], *args: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(_HASHING, function, *args)


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


async def create_user(
    username: str,
    password: str,
    role: str,
    *,
    actor: str | None = None,
    organisation_id: int | None = None,
) -> int:
    """A person who logs in; the password is hashed by Piccolo's BaseUser (PBKDF2-SHA256).

    Given an `actor` (an account made from the accounts page), the creation is an event of the
    same transaction; a partner account may be linked to its organisation at once.
    """
    checked = _check_role(role)
    username = username.strip()
    if not username or len(username) > 100:
        raise Invalid("Le nom d'utilisateur doit compter de 1 à 100 caractères.")
    if len(password) < 10:
        raise Invalid("Le mot de passe doit compter au moins 10 caractères.")
    if len(password) > BaseUser._max_password_length:
        raise Invalid("Le mot de passe doit compter au plus 128 caractères.")
    if await BaseUser.exists().where(BaseUser.username == username):
        raise Invalid(f"L'utilisateur « {username} » existe déjà.")
    hashed = await _hashing(BaseUser.hash_password, password)
    async with write_transaction(BaseUser):
        user = BaseUser(
            username=username,
            password=hashed,
            # BaseUser.email is unique; people here log in by name, so each gets a placeholder.
            email=f"{username}@users.reemploi.invalid",
            active=True,
            # piccolo-admin lets in `admin` users; only admins may edit accounts there.
            admin=checked in (Role.admin, Role.coordinator),
            superuser=checked == Role.admin,
        )
        await user.save()
        await StaffRole.insert(StaffRole(user=user.id, role=checked, organisation=organisation_id))
        if actor is not None:
            await write_event(
                None,
                actor,
                "account_created",
                None,
                None,
                {
                    "user_id": user.id,
                    "username": username,
                    "role": checked.value,
                    "organisation_id": organisation_id,
                },
            )
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
            created_at=now(),
        )
    )
    return token


async def revoke_tokens(name_or_id: str, actor: str) -> list[dict]:
    """Revoke the active token with this number, or every active token with this name.

    A revoked token is refused at its next request (the digest is checked on each one); the row
    stays, with its date of revocation, and the revocation is an event.
    """
    key = name_or_id.strip()
    which = ApiToken.id == int(key) if key.isdigit() else ApiToken.name == key
    async with write_transaction(ApiToken):
        rows = await ApiToken.select(ApiToken.id, ApiToken.name, ApiToken.role).where(
            which & ApiToken.revoked_at.is_null()
        )
        if not rows:
            raise NotFound(f"Aucun jeton actif ne porte le nom ou le numéro « {key} ».")
        ids = [row["id"] for row in rows]
        await ApiToken.update({ApiToken.revoked_at: now()}).where(ApiToken.id.is_in(ids))
        for row in rows:
            await write_event(None, actor, "token_revoked", None, None, dict(row))
    return rows


# A bearer token's owner: one query on the token's unique (indexed) digest, read anew on every
# request, so a revocation takes effect at the next one (no cache). Written out: Piccolo's
# query builder costs more than the query.
_TOKEN_PRINCIPAL = Prebuilt(
    ApiToken,
    'SELECT "name", "role" FROM "api_token" '
    'WHERE "token_sha256" = {} AND "revoked_at" IS NULL LIMIT 1',
)


async def principal_for_token(token: str) -> Principal | None:
    rows = await _TOKEN_PRINCIPAL.run(_token_digest(token))
    return Principal(name=rows[0]["name"], role=Role(rows[0]["role"])) if rows else None


async def principal_for_user(user_id: int) -> Principal | None:
    row = (
        await StaffRole.select(StaffRole.role, StaffRole.user.username, StaffRole.user.active)
        .where(StaffRole.user == user_id)
        .first()
    )
    if not row or not row["user.active"]:
        return None
    return Principal(name=row["user.username"], role=Role(row["role"]), user_id=user_id)


class HashedSessions(SessionsBase, tablename="sessions"):
    """Piccolo's server-side sessions, keeping only each token's SHA-256 in the table.

    The cookie carries the token itself. Our login and piccolo-admin (its login, logout and
    authentication middleware) all go through these methods, so both see the same sessions.
    """

    @classmethod
    async def create_session(
        cls,
        user_id: int,
        expiry_date: datetime | None = None,
        max_expiry_date: datetime | None = None,
    ) -> SessionsBase:
        token = secrets.token_urlsafe(32)
        session = cls(token=session_digest(token), user_id=user_id)
        if expiry_date:
            session.expiry_date = expiry_date
        if max_expiry_date:
            session.max_expiry_date = max_expiry_date
        await session.save()
        # Handed back to set the cookie; the row saved above holds the digest.
        session.token = token
        return session

    @classmethod
    async def get_user_id(cls, token: str, increase_expiry: timedelta | None = None) -> int | None:
        return await super().get_user_id(session_digest(token), increase_expiry=increase_expiry)

    @classmethod
    async def remove_session(cls, token: str) -> None:
        await super().remove_session(session_digest(token))


def session_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class LoginRefused(Exception):
    """Too many failed logins for this account or from this address; the message says what."""

    def __init__(self, sentence: str, retry_after: int) -> None:
        super().__init__(sentence)
        self.sentence = sentence
        self.retry_after = retry_after


def _password_matches(password: str, stored: str | None) -> tuple[bool, bool]:
    """(matches, hashed with an outdated iteration count); CPU-bound, run in a worker thread."""
    if len(password) > BaseUser._max_password_length:
        return False, False
    if stored is None:
        # Same cost whether the name exists or not: timings do not reveal accounts.
        BaseUser.hash_password(password)
        return False, False
    try:
        _, iterations, salt, _ = BaseUser.split_stored_password(stored)
        computed = BaseUser.hash_password(password, salt, int(iterations))
    except ValueError:
        return False, False
    outdated = int(iterations) != BaseUser._pbkdf2_iteration_count
    return hmac.compare_digest(computed, stored), outdated


def delay_after(failures: int) -> timedelta:
    """How long the next attempt waits after this many recent failures: 2 s, 4 s, 8 s…"""
    if failures <= FREE_FAILURES:
        return timedelta(0)
    return min(timedelta(seconds=2 ** (failures - FREE_FAILURES)), MAX_DELAY)


async def _refusal(
    key: str, address: str, attempt_id: int, moment: datetime
) -> tuple[str, timedelta] | None:
    """Why this attempt is refused before its password is even checked, or None."""
    since = moment - FAILURE_WINDOW
    earlier = await LoginFailure.select(LoginFailure.at).where(
        (LoginFailure.username == key) & (LoginFailure.at > since) & (LoginFailure.id != attempt_id)
    )
    if len(earlier) >= ACCOUNT_LOCK:
        oldest = min(row["at"] for row in earlier)
        return ACCOUNT_LOCKED, oldest + FAILURE_WINDOW - moment
    from_address = await LoginFailure.count().where(
        (LoginFailure.address == address)
        & (LoginFailure.at > since)
        & (LoginFailure.id != attempt_id)
    )
    if from_address >= ADDRESS_LOCK:
        return ADDRESS_LOCKED, FAILURE_WINDOW
    if earlier:
        wait = max(row["at"] for row in earlier) + delay_after(len(earlier)) - moment
        if wait > timedelta(0):
            return SLOW_DOWN, wait
    return None


async def open_session(username: str, password: str, address: str = "") -> str | None:
    """A session token for valid credentials, or None (the caller says why, once, vaguely).

    Raises LoginRefused when the account or the address has failed too often: the attempt is
    then refused without looking at the password. Each attempt is written down before the
    password is checked, so parallel guesses count too; a success removes the account's rows.
    """
    username = username.strip()
    key = username.casefold()[:100]
    address = address[:64]
    moment = now()
    inserted = await LoginFailure.insert(LoginFailure(username=key, address=address, at=moment))
    attempt = inserted[0]["id"]
    refused = await _refusal(key, address, attempt, moment)
    if refused:
        # A refused attempt does not count: it would extend the lock for the legitimate owner.
        await LoginFailure.delete().where(LoginFailure.id == attempt)
        sentence, wait = refused
        if sentence != SLOW_DOWN:
            log.warning("login refused for %r from %s: too many failures", key, address)
        raise LoginRefused(sentence, max(1, int(wait.total_seconds()) + 1))
    row = (
        await BaseUser.select(BaseUser.id, BaseUser.password)
        .where(BaseUser.username == username)
        .first()
    )
    matches, outdated = await _hashing(
        _password_matches, password, row["password"] if row else None
    )
    if not row or not matches or await principal_for_user(row["id"]) is None:
        await LoginFailure.delete().where(LoginFailure.at < moment - FAILURE_WINDOW)
        return None
    await LoginFailure.delete().where(LoginFailure.username == key)
    changes: dict[Any, Any] = {BaseUser.last_login: datetime.now()}
    if outdated:
        changes[BaseUser.password] = await _hashing(BaseUser.hash_password, password)
    await BaseUser.update(changes).where(BaseUser.id == row["id"])
    now_naive = datetime.now()
    # Sessions past a limit never open again: gone, every request's look-up stays short.
    await HashedSessions.delete().where(
        (HashedSessions.expiry_date < now_naive) | (HashedSessions.max_expiry_date < now_naive)
    )
    session = await HashedSessions.create_session(
        user_id=row["id"],
        expiry_date=now_naive + SESSION_IDLE,
        max_expiry_date=now_naive + SESSION_MAX,
    )
    return session.token


async def unlock(username: str | None, address: str | None, actor: str) -> int:
    """Forget the recent failures of an account or an address (an administrator's decision)."""
    if not username and not address:
        raise Invalid("Nommez un compte ou une adresse à déverrouiller.")
    which = (
        LoginFailure.username == username.strip().casefold()
        if username
        else LoginFailure.address == (address or "").strip()
    )
    async with write_transaction(LoginFailure):
        removed = await LoginFailure.count().where(which)
        await LoginFailure.delete().where(which)
        what = {"username": username.strip()} if username else {"address": address}
        await write_event(None, actor, "login_unlocked", None, None, {**what, "failures": removed})
    return removed


# The session, its person and their role in one query: every request with a cookie runs it.
_SESSION_PRINCIPAL = Prebuilt(
    HashedSessions,
    "SELECT s.id AS session_id, s.user_id, s.expiry_date, s.max_expiry_date, "
    "u.username, u.active, r.role "
    "FROM sessions s JOIN piccolo_user u ON u.id = s.user_id "
    'JOIN staff_role r ON r."user" = s.user_id '
    "WHERE s.token = {}",
)
SESSION_EXTENSION = timedelta(hours=1)


async def session_principal(token: str) -> Principal | None:
    """Who this session cookie opens, read anew on every request (one query): a logout, a
    deactivated account or a changed role takes effect at the next request, in every worker.

    As Piccolo's `get_user_id`: a session within its idle and hard limits is valid, and its
    idle limit moves an hour later when less than an hour is left (a rare write).
    """
    rows = await _SESSION_PRINCIPAL.run(session_digest(token))
    if not rows:
        return None
    row = rows[0]
    local_now = datetime.now()  # sessions keep naive local times, as Piccolo writes them
    expiry: datetime = row["expiry_date"]
    if not (expiry > local_now and row["max_expiry_date"] > local_now) or not row["active"]:
        return None
    if expiry - local_now < SESSION_EXTENSION:
        await HashedSessions.update({HashedSessions.expiry_date: expiry + SESSION_EXTENSION}).where(
            HashedSessions.id == row["session_id"]
        )
    return Principal(name=row["username"], role=Role(row["role"]), user_id=row["user_id"])


async def close_session(token: str) -> None:
    await HashedSessions.remove_session(token)
