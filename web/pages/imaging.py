"""The imaging page: images, pinned host keys, and deployments with their live progress."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template

from inventory.errors import DomainError, Invalid
from inventory.tags import TagError
from provisioning.imaging import deploy, hostkeys, images, jobs, profiles
from web.accounts import Principal
from web.api.imaging import DeploymentIn, TargetIn, start_deployment
from web.roles import MANAGERS, WORKSHOP

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]


async def _context(error: str | None = None, form: dict[str, Any] | None = None) -> dict:
    return {
        "images": await images.list_images(),
        "pins": await hostkeys.list_pins(),
        "profiles": list(profiles.PROFILES.values()),
        "jobs": await jobs.recent(50),
        "phases": jobs.PHASES,
        "error": error,
        "form": form or {},
    }


@get("/imaging", opt={"roles": WORKSHOP}, include_in_schema=False)
async def imaging_page() -> Template:
    return Template("imaging.html", context=await _context())


def _text(form: dict[str, Any], key: str, limit: int) -> str:
    value = form.get(key, "")
    return value.strip()[:limit] if isinstance(value, str) else ""


@post("/imaging/deploy", opt={"roles": WORKSHOP}, include_in_schema=False, status_code=303)
async def start_from_page(data: Form, principal: Principal) -> Redirect | Template:
    try:
        lines = [x for x in _text(data, "targets", 20000).splitlines() if x.strip()]
        if not lines or len(lines) > 100:
            raise Invalid("Donnez de 1 à 100 cibles, une par ligne.")
        targets = [deploy.parse_target(line) for line in lines]
        request = DeploymentIn(
            image=_text(data, "image", 80) or "-",
            profile=_text(data, "profile", 40) or "-",
            targets=[TargetIn(tag=t.tag, host=t.host, port=t.port, disk=t.disk) for t in targets],
        )
        await start_deployment(request, principal.actor)
    except (DomainError, TagError) as error:
        return Template("imaging.html", context=await _context(str(error), data), status_code=422)
    return Redirect("/imaging")


@post("/imaging/host-keys", opt={"roles": MANAGERS}, include_in_schema=False, status_code=303)
async def enrol_from_page(data: Form, principal: Principal) -> Redirect | Template:
    try:
        host = _text(data, "host", 120)
        key = hostkeys.parse_public_key(_text(data, "public_key", 4000))
        await hostkeys.enrol(host, key, label=_text(data, "label", 120), actor=principal.actor)
    except DomainError as error:
        return Template("imaging.html", context=await _context(str(error), data), status_code=422)
    return Redirect("/imaging")
