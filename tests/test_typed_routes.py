"""Every route's handler has typed inputs and outputs; the OpenAPI document describes every answer.

Pages may take a form as `URLEncodedBody[dict[str, Any]]` or `MultipartBody[...]` (it becomes a
command through `web.forms.form_to`); the JSON API takes and returns structs only, and documents
its refusals.
"""

from __future__ import annotations

import inspect
import typing
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler

from web.app import create_app

FRAMEWORK_PARAMETERS = {"request", "state", "scope", "socket", "headers", "cookies", "body"}


@pytest.fixture(scope="module")
def app() -> Litestar:
    return create_app()


def _handlers(app: Litestar) -> list[tuple[str, HTTPRouteHandler]]:
    found = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            if not isinstance(handler, HTTPRouteHandler) or handler.opt.get("static"):
                continue
            if getattr(handler.fn, "__module__", "").startswith("litestar."):
                continue  # the framework's own OPTIONS answers
            if route.path.startswith("/admin/"):
                continue
            found.append((route.path, handler))
    return found


def _hints(handler: HTTPRouteHandler) -> dict[str, Any]:
    try:
        return typing.get_type_hints(handler.fn, include_extras=True)
    except NameError as error:  # an annotation imported only for the type checker
        raise AssertionError(f"{handler.handler_name}: {error}") from None


def _untyped(annotation: Any) -> str | None:
    """Why an annotation says nothing of its data, or None when it is typed."""
    if annotation is inspect.Parameter.empty:
        return "no annotation"
    if annotation is Any or annotation is object:
        return "Any"
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _untyped(typing.get_args(annotation)[0])
    if annotation is dict or origin is dict:
        return "a dict"
    for argument in typing.get_args(annotation):
        if argument is not type(None) and (reason := _untyped(argument)):
            return reason
    return None


def _is_form(annotation: Any) -> bool:
    """A page's form body (URL-encoded, or multipart when it carries a file or a signature)."""
    text = repr(annotation)
    return any(kind in text for kind in ("URL_ENCODED", "url-encoded", "MULTI_PART", "multipart"))


def test_every_handler_has_typed_inputs_and_outputs(app: Litestar) -> None:
    problems = []
    for path, handler in _handlers(app):
        fn = handler.fn
        hints = _hints(handler)
        for name in inspect.signature(fn).parameters:
            if name in {"self", "cls"} or name in FRAMEWORK_PARAMETERS:
                continue
            annotation = hints.get(name, inspect.Parameter.empty)
            reason = _untyped(annotation)
            page_form = name == "data" and _is_form(annotation) and not path.startswith("/api/")
            if reason and not (page_form and reason == "a dict"):
                problems.append(f"{path} {handler.handler_name}({name}): {reason}")
        returned = hints.get("return", inspect.Parameter.empty)
        if reason := _untyped(returned):
            problems.append(f"{path} {handler.handler_name} -> {reason}")
    assert not problems, "\n".join(problems)


def test_the_api_takes_structs_not_dicts(app: Litestar) -> None:
    problems = []
    for path, handler in _handlers(app):
        if not path.startswith("/api/"):
            continue
        hints = _hints(handler)
        data = hints.get("data")
        if data is not None:
            inner = data
            while typing.get_origin(inner) is typing.Annotated:
                inner = typing.get_args(inner)[0]
            if not (isinstance(inner, type) and issubclass(inner, msgspec.Struct)):
                problems.append(f"{path} {handler.handler_name}: body is {inner!r}")
    assert not problems, "\n".join(problems)


def test_openapi_has_a_schema_for_every_response(app: Litestar) -> None:
    document = app.openapi_schema.to_schema()
    problems = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.get("responses", {})
            where = f"{method.upper()} {path}"
            successes = [code for code in responses if code.startswith("2")]
            if not successes:
                problems.append(f"{where}: no success response")
            for code, response in responses.items():
                if code == "204":
                    continue
                content = response.get("content") or {}
                if not content or not all(media.get("schema") for media in content.values()):
                    problems.append(f"{where} {code}: no schema")
                    continue
                for media in content.values():
                    schema = media["schema"]
                    if code.startswith("2") and schema in ({}, {"type": "object"}):
                        problems.append(f"{where} {code}: untyped object")
            refusals = [code for code in responses if code.startswith("4") and code != "400"]
            if not refusals:
                problems.append(f"{where}: refusals (401, 403, 404, 409, 422) not documented")
    assert not problems, "\n".join(problems)
