"""The transition request's fast paths give what the slower ones gave (issue 16).

Prebuilt statements against Piccolo's own compiler and query builder, `allowed` against
`decide` on every pair, the security headers written in one pass, uvicorn's access line.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import Any

import pytest
from uvicorn.config import LOGGING_CONFIG
from uvicorn.logging import AccessFormatter

from inventory import lifecycle
from inventory.devices import _DEVICE_SQL, _EVENT_SQL, _TRANSITION_SQL, Prebuilt
from inventory.lifecycle import Facts
from inventory.states import DeviceState
from inventory.tables import Device
from web.security import AccessLineFormatter, redact_path, security_headers


@pytest.mark.parametrize("engine_type", ["sqlite", "postgres"])
def test_a_prebuilt_statement_compiles_as_piccolo_would(engine_type: str) -> None:
    placeholder = "?" if engine_type == "sqlite" else "$2"
    sql = Prebuilt(Device, 'SELECT "id" FROM "device" WHERE "id" = {} AND "version" = {}')
    assert sql._sql(engine_type).endswith(f'"version" = {placeholder}')
    update = _TRANSITION_SQL._sql(engine_type)
    assert update.startswith('UPDATE "device" SET "state" = ')
    assert update.count("?" if engine_type == "sqlite" else "$") == 4
    assert _EVENT_SQL._sql(engine_type).count("?" if engine_type == "sqlite" else "$") == 8


def test_the_device_statement_names_every_column_as_piccolo_does() -> None:
    for column in Device._meta.columns:
        assert f'AS "{column._meta.name}"' in _DEVICE_SQL.template


def naive_allowed(state: DeviceState, facts: Facts) -> list[str]:
    names = []
    for name in lifecycle.TRANSITIONS:
        try:
            lifecycle.decide(state, name, facts)
        except lifecycle.TransitionRefused:
            continue
        names.append(name)
    return names


def test_allowed_is_what_decide_accepts() -> None:
    facts = [
        Facts(),
        Facts(has_storage=False),
        Facts(has_storage=True, disks_sanitized=True, image_verified=True),
        Facts(open_loan=7),
        Facts(open_loan=7, acting_loan=7, charter_signed=True),
        Facts(acting_loan=7, charter_signed=True),
    ]
    for state, fact in itertools.product(DeviceState, facts):
        assert lifecycle.allowed(state, fact) == naive_allowed(state, fact)


def headers_after(headers: list[tuple[bytes, bytes]], path: str) -> dict[bytes, list[bytes]]:
    message: Any = {"type": "http.response.start", "status": 200, "headers": headers}
    scope: Any = {"type": "http", "path": path}
    asyncio.run(security_headers(message, scope))
    found: dict[bytes, list[bytes]] = {}
    for name, value in message["headers"]:
        found.setdefault(name.lower(), []).append(value)
    return found


def test_security_headers_replace_ours_and_keep_the_handlers_cache_control() -> None:
    page = headers_after(
        [(b"content-type", b"text/html; charset=utf-8"), (b"X-Frame-Options", b"SAMEORIGIN")],
        "/devices",
    )
    assert page[b"x-frame-options"] == [b"DENY"]
    assert page[b"cache-control"] == [b"no-store"]
    assert page[b"content-security-policy"][0].startswith(b"default-src 'self'")
    static = headers_after(
        [(b"content-type", b"text/css"), (b"cache-control", b"max-age=60")], "/static/a.css"
    )
    assert static[b"cache-control"] == [b"max-age=60"]
    assert static[b"content-security-policy"] == [b"default-src 'none'; frame-ancestors 'none'"]
    pdf = headers_after([(b"content-type", b"application/pdf")], "/loans/1/charter")
    assert pdf[b"content-security-policy"] == [b"frame-ancestors 'none'"]
    assert pdf[b"cache-control"] == [b"no-store"]


@pytest.mark.parametrize("status", [200, 409, 599])
def test_the_access_line_is_uvicorns(status: int) -> None:
    fmt = LOGGING_CONFIG["formatters"]["access"]["fmt"]
    args = ("127.0.0.1:5000", "POST", "/api/v1/devices/RE-1/transitions", "1.1", status)
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d', args, None
    )
    ours = AccessLineFormatter(fmt=fmt, use_colors=False).format(record)
    assert ours == AccessFormatter(fmt=fmt, use_colors=False).format(record)


def test_redaction_still_hides_signing_tokens_and_search_terms() -> None:
    assert redact_path("/sign/abc/x") == "/sign/…/x"
    assert redact_path("/devices?q=Durand&page=2") == "/devices?q=…&page=2"
    assert redact_path("/api/v1/devices/RE-1/transitions") == "/api/v1/devices/RE-1/transitions"
