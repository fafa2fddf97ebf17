"""Loan charter versions: list, write in Markdown with a preview, publish from a date."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from litestar import get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template

from inventory.errors import Conflict, DomainError
from loans import charter
from web.accounts import Principal
from web.roles import MANAGERS

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]


@get("/charters", opt={"roles": MANAGERS}, include_in_schema=False)
async def charter_list() -> Template:
    versions = await charter.versions_with_status()
    return Template("charters.html", context={"versions": versions, "statuses": charter.STATUSES})


@get("/charters/{version:int}", opt={"roles": MANAGERS}, include_in_schema=False)
async def charter_page(version: int) -> Template:
    versions = await charter.versions_with_status()
    row = next((v for v in versions if v["version"] == version), None)
    if row is None:
        row = await charter.get_version(version)  # raises NotFound with its sentence
    return Template(
        "charter.html",
        context={
            "charter": row,
            "statuses": charter.STATUSES,
            "charter_html": charter.to_html(row["text"]),
        },
    )


async def _new_context(
    form: dict[str, str], error: str | None = None, field: str | None = None
) -> dict[str, Any]:
    return {
        "form": form,
        "error": error,
        "field": field,
        "today": date.today().isoformat(),
        "preview_html": None,
    }


@get("/charters/new", opt={"roles": MANAGERS}, include_in_schema=False)
async def charter_new() -> Template:
    """The form starts from the text in force: a new version is usually a few changes."""
    try:
        current = await charter.in_force()
        form = {"title": current["title"], "text": current["text"]}
    except Conflict:
        form = {"title": "", "text": ""}
    form["in_force_from"] = date.today().isoformat()
    return Template("charter_new.html", context=await _new_context(form))


def _date(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@post("/charters/new", opt={"roles": MANAGERS}, include_in_schema=False, status_code=200)
async def charter_new_submit(data: Form, principal: Principal) -> Template | Redirect:
    """ "Aperçu" renders the Markdown here without saving; "Publier" makes the new version."""
    form = {
        "title": str(data.get("title", ""))[: charter.MAX_TITLE + 100],
        "text": str(data.get("text", ""))[: charter.MAX_TEXT + 1000],
        "in_force_from": str(data.get("in_force_from", ""))[:10],
    }
    context = await _new_context(form)
    if data.get("action") == "preview":
        context["preview_html"] = charter.to_html(form["text"])
        return Template("charter_new.html", context=context)
    try:
        row = await charter.create_version(
            form["title"], form["text"], _date(form["in_force_from"]), principal.actor
        )
    except DomainError as refusal:
        context["error"] = str(refusal)
        context["field"] = getattr(refusal, "field", None)
        context["preview_html"] = charter.to_html(form["text"])
        status = 409 if isinstance(refusal, Conflict) else 422
        return Template("charter_new.html", context=context, status_code=status)
    return Redirect(f"/charters/{row['version']}", status_code=303)


ROUTES: list[Any] = [charter_list, charter_page, charter_new, charter_new_submit]
