"""The imaging page: images, pinned host keys, and deployments with their live progress.

Every refusal is a French sentence: the domain's own, or one of this module's for what is not
the domain's (a malformed form, the workshop's SSH key missing); raw exception text never shows.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import URLEncodedBody
from litestar.response import Redirect, Template

from inventory.errors import DomainError, FieldInvalid, Invalid
from inventory.states import N_
from inventory.tags import TagError
from loans import programmes as programme_service
from loans.tables import Programme
from provisioning.imaging import catalogue, deploy, enrolment, hostkeys, jobs, profiles
from provisioning.imaging.enrolment import HostKeyEnrol
from web.accounts import Principal
from web.forms import form_to
from web.i18n import gettext as _
from web.pages.wiping import duration_words, size_words, speed_words
from web.roles import MANAGERS, WORKSHOP

Form = URLEncodedBody[dict[str, Any]]
Caller = NamedDependency[Principal]

JOB_STATUS_WORDS = {
    "queued": N_("En attente"),
    "running": N_("En cours"),
    "passed": N_("Réussi"),
    "failed": N_("Échoué"),
}
PYTHON_ERROR = re.compile(r"^[A-Za-z_.]*(Error|Exception|Interrupt|Exit)\b")
LOST = "connexion SSH perdue ou refusée"


def reason_words(reason: str) -> str:
    """A job's reason as a sentence: the services' own sentences, and words for the rest."""
    text = (reason or "").strip()
    if not text:
        return ""
    if text.startswith(LOST):
        return _(
            "La connexion SSH a été perdue ou refusée : vérifiez que le PC est démarré sur le "
            "système live et joignable, puis relancez."
        )
    if PYTHON_ERROR.match(text) or "Traceback" in text or "[Errno" in text:
        return _(
            "L'installation s'est arrêtée sur une erreur imprévue ; le journal du serveur en "
            "garde le détail. Relancez, et signalez-la si elle revient."
        )
    return text


class JobWords(msgspec.Struct):
    """A job in words, for the page's live refresh."""

    id: int
    status_text: str
    phase_text: str
    bytes_text: str
    rate_text: str
    eta_text: str
    reason_text: str


class JobsWords(msgspec.Struct):
    jobs: list[JobWords]


def job_words(job: dict[str, Any]) -> dict[str, Any]:
    status = job["status"]
    total = job["bytes_total"] or 0
    return {
        "id": job["id"],
        "status_text": _(JOB_STATUS_WORDS[status]) if status in JOB_STATUS_WORDS else status,
        "phase_text": _(jobs.PHASES[job["phase"]]) if job["phase"] in jobs.PHASES else "",
        "bytes_text": _("{done} sur {total}").format(
            done=size_words(job["bytes_done"]), total=size_words(total)
        ),
        "rate_text": speed_words(job["rate"]) if status == "running" else "",
        "eta_text": (
            _("environ {duration}").format(duration=duration_words(job["eta_seconds"]))
            if status == "running" and job["eta_seconds"]
            else ""
        ),
        "reason_text": reason_words(job["reason"]),
    }


async def _context(
    error: str | None = None, form: dict[str, Any] | None = None, field: str = ""
) -> dict:
    recent = await jobs.recent(50)
    return {
        "images": await catalogue.offered(),
        "pins": await hostkeys.list_pins(),
        "profiles": list(profiles.PROFILES.values()),
        "programmes": await _programmes_with_profile(),
        "profile_labels": {p.name: p.label for p in profiles.PROFILES.values()},
        "family_filter_text": profiles.FAMILY_FILTER_TEXT,
        "jobs": [{**j, **job_words(j)} for j in recent],
        "error": error,
        "error_field": field,
        "form": form or {},
    }


async def _programmes_with_profile() -> list[dict[str, Any]]:
    """Open programmes that name an imaging profile, for the form's Programme select."""
    return await (
        Programme.select(Programme.id, Programme.name, Programme.imaging_profile)
        .where(Programme.archived_at.is_null() & (Programme.imaging_profile != ""))
        .order_by(Programme.name)
    )


async def _profile_from_programme(data: dict[str, Any]) -> str:
    """The profile the form asks for: the chosen programme's own, else the one selected."""
    chosen = str(data.get("programme_id") or "").strip()
    if chosen.isdigit():
        programme = await programme_service.get_programme(int(chosen))
        if programme["imaging_profile"]:
            return programme["imaging_profile"]
    return str(data.get("profile", ""))


@get("/imaging", opt={"roles": WORKSHOP}, include_in_schema=False)
async def imaging_page() -> Template:
    return Template("imaging.html", context=await _context())


@get("/imaging/jobs.json", opt={"roles": WORKSHOP}, include_in_schema=False)
async def imaging_jobs() -> JobsWords:
    """The recent deployments in words, for the page's live refresh (web/static/imaging.js)."""
    return JobsWords(jobs=[JobWords(**job_words(j)) for j in await jobs.recent(50)])


def _refusal(error: Exception) -> str:
    """A domain refusal's sentence; anything that carries Python's own words gets ours."""
    text = str(error)
    if not text or PYTHON_ERROR.match(text) or "[Errno" in text:
        return _("La demande n'a pas pu aboutir ; vérifiez les champs et recommencez.")
    return text


@post("/imaging/deploy", opt={"roles": WORKSHOP}, include_in_schema=False, status_code=303)
async def start_from_page(data: Form, principal: Caller) -> Redirect | Template:
    """Queue the deployment the form describes (the same command as the API's); a worker runs it."""
    field = "targets"
    try:
        request = deploy.deployment_from_text(
            str(data.get("image", "")),
            await _profile_from_programme(data),
            str(data.get("targets", "")),
            str(data.get("mode", "") or "auto"),
        )
        field = ""
        try:
            deploy.workshop_key()
        except Invalid:
            raise Invalid(
                _(
                    "La clé SSH de l'atelier est absente ou illisible sur le serveur : demandez à "
                    "l'administrateur de l'installer (REEMPLOI_SSH_KEY ou ssh/id_ed25519 dans le "
                    "dossier de données)."
                )
            ) from None
        await deploy.enqueue(request, principal.actor)
    except FieldInvalid as error:
        where = error.field.split(".")[0]
        field = where if where in ("image", "profile", "targets", "mode") else "targets"
        return Template(
            "imaging.html", context=await _context(_refusal(error), data, field), status_code=422
        )
    except (DomainError, TagError) as error:
        return Template(
            "imaging.html", context=await _context(_refusal(error), data, field), status_code=422
        )
    return Redirect("/imaging")


@post("/imaging/host-keys", opt={"roles": MANAGERS}, include_in_schema=False, status_code=303)
async def enrol_from_page(data: Form, principal: Caller) -> Redirect | Template:
    """Pin the key the machine offers, if its fingerprint is the one read on its screen."""
    try:
        await enrolment.enrol_by_fingerprint(form_to(HostKeyEnrol, data), principal.actor)
    except enrolment.FingerprintMismatch as error:
        return Template(
            "imaging.html",
            context=await _context(str(error), data, "fingerprint"),
            status_code=422,
        )
    except DomainError as error:
        field = error.field if isinstance(error, FieldInvalid) else ""
        return Template(
            "imaging.html", context=await _context(_refusal(error), data, field), status_code=422
        )
    return Redirect("/imaging")


ROUTES: list[Any] = [imaging_page, start_from_page, enrol_from_page, imaging_jobs]
