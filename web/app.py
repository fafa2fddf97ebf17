"""The Litestar application factory."""

from __future__ import annotations

import os
from pathlib import Path

import msgspec
from litestar import Litestar, Request, get
from litestar.config.csrf import CSRFConfig
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.router import Router
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig
from piccolo.engine import engine_finder
from piccolo.engine.postgres import PostgresEngine

from inventory import config
from inventory.db import PooledSQLiteEngine
from labels.pdf import shutdown_renderers
from web import templating
from web.accounts import Principal
from web.admin import admin
from web.api import devices as devices_api
from web.api import events as events_api
from web.api import imaging as imaging_api
from web.api import intake as intake_api
from web.api import loans as loans_api
from web.api import mediation as mediation_api
from web.api import reports as reports_api
from web.api import sanitization as sanitization_api
from web.api import scan as scan_api
from web.errors import EXCEPTION_HANDLERS
from web.guards import PrincipalMiddleware, role_guard
from web.i18n import set_request_language
from web.pages import accounts as accounts_pages
from web.pages import borrowers as borrowers_pages
from web.pages import charters as charters_pages
from web.pages import dashboard as dashboard_pages
from web.pages import devices as device_pages
from web.pages import images as images_pages
from web.pages import imaging as imaging_pages
from web.pages import intake as intake_pages
from web.pages import labels as label_pages
from web.pages import language, scan
from web.pages import loans as loan_pages
from web.pages import mediation as mediation_pages
from web.pages import organisations as organisations_pages
from web.pages import partner as partner_pages
from web.pages import privacy as privacy_pages
from web.pages import programmes as programmes_pages
from web.pages import reports as report_pages
from web.pages import selfcheck as selfcheck_pages
from web.pages import session as session_pages
from web.pages import signing as signing_pages
from web.pages import sites as sites_pages
from web.pages import verify as verify_pages
from web.pages import wiping as wiping_pages
from web.pages import workshop as workshop_pages
from web.security import CrossOriginWriteMiddleware, security_headers
from web.settings import secret_key, secure_cookies

HERE = Path(__file__).parent
MAX_BODY_BYTES = 10 * 1024 * 1024


class Health(msgspec.Struct):
    status: str


@get("/healthz", opt={"public": True}, include_in_schema=False)
async def healthz() -> Health:
    """Liveness for a load balancer or a bench: answers without touching the database."""
    return Health(status="ok")


def current_principal(request: Request) -> Principal:
    return request.user


ROUTE_HANDLERS = [
    healthz,
    session_pages.login_form,
    session_pages.login,
    session_pages.logout,
    language.switch_language,
    device_pages.device_list,
    device_pages.device_page,
    device_pages.device_transition_form,
    scan.scan_page,
    scan.scan_form,
    intake_pages.intake_form,
    intake_pages.register_donation,
    intake_pages.donation_page,
    intake_pages.tagged_device_form,
    intake_pages.register_tagged_device,
    admin,
    scan_api.scan,
    label_pages.labels_form,
    label_pages.labels_document,
    label_pages.device_label,
    label_pages.device_handout,
    sanitization_api.SanitizationController,
    verify_pages.verify_page,
    privacy_pages.privacy_page,
    verify_pages.certificate_pdf,
    verify_pages.donation_certificate,
    verify_pages.public_key_page,
    verify_pages.public_key_pem,
    verify_pages.certificate_payload,
    verify_pages.certificate_signature,
    devices_api.DeviceController,
    devices_api.lookup,
    devices_api.transitions,
    intake_api.SiteController,
    intake_api.DonorController,
    intake_api.DonationController,
    events_api.list_events,
    events_api.me,
    loans_api.OrganisationController,
    loans_api.BorrowerController,
    loans_api.ProgrammeController,
    mediation_api.CharterController,
    loans_api.LoanController,
    loans_api.RepairController,
    mediation_api.SessionController,
    mediation_api.reminders_today,
    loan_pages.loan_list,
    loan_pages.checkout_page,
    loan_pages.checkout_submit,
    loan_pages.loan_page,
    loan_pages.loan_document,
    loan_pages.return_page,
    loan_pages.return_submit,
    loan_pages.deposit_settle,
    loan_pages.cession_submit,
    imaging_api.ImagingController,
    reports_api.funder_report_api,
    reports_api.donor_report_api,
    reports_api.opendata_api,
    reports_api.communes_api,
    reports_api.lieux_api,
    report_pages.reports_index,
    report_pages.funder_report_page,
    report_pages.donor_report_page,
    report_pages.donor_attestation_page,
    report_pages.donor_certificates,
    selfcheck_pages.check_page,
    *accounts_pages.ROUTES,
    *borrowers_pages.ROUTES,
    *charters_pages.ROUTES,
    *dashboard_pages.ROUTES,
    *images_pages.ROUTES,
    *imaging_pages.ROUTES,
    *mediation_pages.ROUTES,
    *organisations_pages.ROUTES,
    *partner_pages.ROUTES,
    *programmes_pages.ROUTES,
    *signing_pages.ROUTES,
    *sites_pages.ROUTES,
    *wiping_pages.ROUTES,
    *workshop_pages.ROUTES,
]


async def _open_pool() -> None:
    engine = engine_finder()
    if isinstance(engine, PostgresEngine) and config.settings().db_pool:
        await engine.start_connection_pool(max_size=20)


async def _close_pool() -> None:
    engine = engine_finder()
    if isinstance(engine, PostgresEngine) and engine.pool is not None:
        await engine.close_connection_pool()
    elif isinstance(engine, PooledSQLiteEngine):
        await engine.close_pools()


def create_app() -> Litestar:
    os.environ.setdefault("PICCOLO_CONF", "web.piccolo_conf")
    return Litestar(
        route_handlers=[
            *ROUTE_HANDLERS,
            create_static_files_router(
                path="/static",
                directories=[HERE / "static"],
                opt={"public": True},
                include_in_schema=False,
            ),
        ],
        guards=[role_guard],
        middleware=[
            CrossOriginWriteMiddleware,
            DefineMiddleware(PrincipalMiddleware, exclude=["^/static/", "^/healthz"]),
        ],
        dependencies={"principal": Provide(current_principal, sync_to_thread=False)},
        exception_handlers=EXCEPTION_HANDLERS,
        csrf_config=CSRFConfig(
            secret=secret_key(),
            cookie_name="reemploi_csrf",
            cookie_secure=secure_cookies(),
            cookie_samesite="lax",
            # The API and piccolo-admin (its own CSRF cookie) are checked by
            # web.security.CrossOriginWriteMiddleware; forms (HTML pages) carry the token.
            exclude=["^/api/", "^/admin"],
        ),
        template_config=TemplateConfig(
            directory=HERE / "templates",
            engine=JinjaTemplateEngine,
            engine_callback=templating.configure,
        ),
        before_request=set_request_language,
        before_send=[security_headers],
        openapi_config=OpenAPIConfig(
            title="Réemploi API",
            version="1",
            path="/schema",
            render_plugins=[JsonRenderPlugin()],
            # The document describes the API, not itself (Litestar would list /schema as text).
            openapi_router=Router(
                path="/schema", route_handlers=[], opt={"public": True}, include_in_schema=False
            ),
        ),
        request_max_body_size=MAX_BODY_BYTES,
        on_startup=[_open_pool],
        on_shutdown=[_close_pool, shutdown_renderers],
    )
