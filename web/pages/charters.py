"""Loan charter versions: list, write in Markdown with a preview, publish from a date."""

from __future__ import annotations

from datetime import date
from typing import Any

from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect, Template

from inventory.errors import Conflict, DomainError
from loans import charter
from web.accounts import Principal
from web.forms import form_to
from web.roles import MANAGERS


@get("/charters", opt={"roles": MANAGERS}, include_in_schema=False)
async def charter_list() -> Template:
    versions = await charter.versions_with_status()
    return Template("charters.html", context={"versions": versions, "statuses": charter.STATUSES})


@get("/charters/{version:int}", opt={"roles": MANAGERS}, include_in_schema=False)
async def charter_page(version: FromPath[int]) -> Template:
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
    form: dict[str, Any], error: str | None = None, field: str | None = None
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


@post("/charters/new", opt={"roles": MANAGERS}, include_in_schema=False, status_code=200)
async def charter_new_submit(
    data: URLEncodedBody[dict[str, Any]], principal: NamedDependency[Principal]
) -> Template | Redirect:
    """ "Aperçu" renders the Markdown here without saving; "Publier" makes the new version
    (`loans.charter.CharterIn`, the API's command)."""
    form = {
        key: str(data.get(key, ""))[:limit]
        for key, limit in (
            ("title", charter.MAX_TITLE + 100),
            ("text", charter.MAX_TEXT + 1000),
            ("in_force_from", 10),
        )
    }
    context = await _new_context(form)
    if data.get("action") == "preview":
        context["preview_html"] = charter.to_html(form["text"])
        return Template("charter_new.html", context=context)
    try:
        row = await charter.publish(form_to(charter.CharterIn, data), principal.actor)
    except DomainError as refusal:
        context["error"] = str(refusal)
        context["field"] = getattr(refusal, "field", None)
        context["preview_html"] = charter.to_html(form["text"])
        return Template("charter_new.html", context=context, status_code=refusal.status_code)
    return Redirect(f"/charters/{row['version']}", status_code=303)


ROUTES: list[Any] = [charter_list, charter_page, charter_new, charter_new_submit]
