"""Log in and log out."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.params import FromQuery, URLEncodedBody
from litestar.response import Redirect, Template

from inventory.states import N_
from web import accounts
from web.admin import ADMIN_COOKIE
from web.guards import SESSION_COOKIE
from web.roles import EVERYONE
from web.settings import secure_cookies

LOGIN_FAILED = N_("Identifiant ou mot de passe incorrect.")


def safe_next(target: str | None) -> str:
    # Only local paths: an open redirect would let a phishing link borrow our login page.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


@get("/login", opt={"public": True}, include_in_schema=False)
async def login_form(next: FromQuery[str | None] = None) -> Template:
    return Template("login.html", context={"next": safe_next(next), "error": None})


@post("/login", opt={"public": True}, include_in_schema=False, status_code=303)
async def login(
    request: Request,
    data: URLEncodedBody[dict[str, Any]],
) -> Template | Redirect:
    username = str(data.get("username", ""))[:100]
    password = str(data.get("password", ""))[:1000]
    target = safe_next(str(data.get("next", "")))
    address = request.client.host if request.client else ""
    try:
        token = await accounts.open_session(username, password, address)
    except accounts.LoginRefused as refused:
        return Template(
            "login.html",
            context={"next": target, "error": refused.sentence, "username": username},
            status_code=429,
            headers={"Retry-After": str(refused.retry_after)},
        )
    if token is None:
        return Template(
            "login.html",
            context={"next": target, "error": LOGIN_FAILED, "username": username},
            status_code=200,
        )
    response = Redirect(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(),
        max_age=int(accounts.SESSION_MAX.total_seconds()),
    )
    # piccolo-admin reads the same server-side session from its own cookie, under /admin only.
    response.set_cookie(
        ADMIN_COOKIE, token, path="/admin", httponly=True, samesite="lax", secure=secure_cookies()
    )
    return response


@post("/logout", opt={"roles": EVERYONE}, include_in_schema=False, status_code=303)
async def logout(request: Request) -> Redirect:
    if token := request.cookies.get(SESSION_COOKIE):
        await accounts.close_session(token)
    response = Redirect("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    response.delete_cookie(ADMIN_COOKIE, path="/admin")
    return response
