"""The language switch: remembered in a cookie, then back to the page the person was on."""

from __future__ import annotations

from litestar import get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from web.i18n import LANG_COOKIE, LANGUAGES
from web.pages.session import safe_next


@get("/lang/{code:str}", opt={"public": True}, include_in_schema=False)
async def switch_language(code: FromPath[str], next: FromQuery[str | None] = None) -> Redirect:
    if code not in LANGUAGES:
        raise NotFoundException(f"Langue non prise en charge : {code[:10]}")
    response = Redirect(safe_next(next), status_code=303)
    response.set_cookie(LANG_COOKIE, code, max_age=365 * 24 * 3600, samesite="lax", httponly=True)
    return response
