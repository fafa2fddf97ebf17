"""The one place HTML templates become PDF: labels, handout sheets, certificates, charters, reports.

Templates are Jinja2 HTML with CSS `@page` rules; they extend `_base.html` (bare pages) or
`document.html` (A4 with header and page numbers). Fonts are the bundled DejaVu files, and the
fetcher only opens local files under known folders: a document never reaches the network.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import multiprocessing
import os
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from functools import lru_cache, partial
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import jinja2
import weasyprint
from weasyprint.urls import URLFetcher, URLFetcherResponse

from labels.typeface import FONT_DIR, font_face_css

TEMPLATE_DIR = Path(__file__).parent / "templates"
# PDF/A-3b: archivable like PDF/A-2b, and it may carry the signed JSON record of a certificate.
PDFA_VARIANT = "pdf/a-3b"


class LocalFetcher(URLFetcher):
    """Serve `data:` URLs and files under the allowed folders; refuse everything else."""

    def __init__(self, roots: Iterable[Path]) -> None:
        super().__init__(allowed_protocols={"file", "data"}, timeout=1)
        self.roots = tuple(Path(root).resolve() for root in roots)

    def fetch(self, url: str, headers: Mapping[str, str] | None = None) -> Any:
        if url.startswith("data:") and ";base64," in url[:100]:
            # Every label's QR code is one: decoded here, not by urllib's slower handler.
            media_type, payload = url[5:].split(";base64,", 1)
            body = base64.b64decode(payload)
            return URLFetcherResponse(url, body, {"Content-Type": media_type or "text/plain"})
        if url.startswith("file:"):
            path = Path(unquote(urlsplit(url).path)).resolve()
            if not any(path.is_relative_to(root) for root in self.roots):
                raise ValueError(f"Fichier hors des dossiers autorisés : {path}")
        elif not url.startswith("data:"):
            raise ValueError(f"Ressource distante refusée : {url[:80]}")
        return super().fetch(url, headers)


def _mm(value: float) -> str:
    """Jinja filter: a length in millimetres for CSS."""
    return f"{value:.3f}mm"


def _file_uri(path: str | Path) -> str:
    """Jinja filter: the file URL of a local path (a logo)."""
    return Path(path).resolve().as_uri()


_gc_lock = threading.Lock()
_gc_state = {"pauses": 0, "restore": False}


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Hold the cyclic garbage collector while weasyprint builds its boxes.

    A 500-label layout allocates millions of objects and the collector would walk them again
    and again (a quarter of the time); they are freed when the document is dropped anyway.
    Counted, because several renders may run in worker threads at once.
    """
    with _gc_lock:
        if _gc_state["pauses"] == 0:
            _gc_state["restore"] = gc.isenabled()
            gc.disable()
        _gc_state["pauses"] += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_state["pauses"] -= 1
            if _gc_state["pauses"] == 0 and _gc_state["restore"]:
                gc.enable()


@lru_cache(maxsize=16)
def _environment(search_path: tuple[Path, ...]) -> jinja2.Environment:
    """One Jinja2 environment per template search path, kept for the process's life."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader([*search_path, TEMPLATE_DIR]),
        autoescape=jinja2.select_autoescape(["html", "xml"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["mm"] = _mm
    environment.filters["file_uri"] = _file_uri
    return environment


def render_html(
    template_name: str, context: Mapping[str, Any], *, search_path: Sequence[Path] = ()
) -> str:
    """The HTML of a template, with the bundled fonts' @font-face rules in `font_faces`."""
    paths = tuple(Path(p).resolve() for p in search_path)
    template = _environment(paths).get_template(template_name)
    return template.render({**context, "font_faces": font_face_css()})


def html_to_pdf(
    html: str,
    *,
    pdfa: bool,
    search_path: Sequence[Path] = (),
    assets: Sequence[Path] = (),
) -> bytes:
    """Lay out `html` and write the PDF; `pdfa` for documents that are archived."""
    roots = [TEMPLATE_DIR, FONT_DIR, *search_path, *assets]
    options: dict[str, Any] = {}
    if pdfa:
        options["pdf_variant"] = PDFA_VARIANT
    with _gc_paused():
        document = weasyprint.HTML(
            string=html,
            base_url=TEMPLATE_DIR.resolve().as_uri() + "/",
            url_fetcher=LocalFetcher(roots),
            media_type="print",
        )
        content = document.write_pdf(**options)
    assert content is not None  # no target given: weasyprint returns the bytes
    return content


def render_pdf(
    template_name: str,
    context: Mapping[str, Any],
    *,
    pdfa: bool,
    search_path: Sequence[Path] = (),
    assets: Sequence[Path] = (),
) -> bytes:
    """Render a Jinja2 template to PDF bytes.

    `search_path` adds template folders (other apps' documents) ahead of `labels/templates`;
    `assets` adds folders whose files the document may show (a site's logo).
    """
    html = render_html(template_name, context, search_path=search_path)
    return html_to_pdf(html, pdfa=pdfa, search_path=search_path, assets=assets)


RENDERER_NICENESS = 10
_pool_lock = threading.Lock()
_pool: dict[str, ProcessPoolExecutor] = {}


def _renderers() -> ProcessPoolExecutor:
    """Processes that lay out PDFs, so a server's event loop never waits on weasyprint.

    Layout is pure Python and holds the GIL: in a thread it would still stall every request.
    The fork server preloads this module (weasyprint imported once) and forks each renderer.
    """
    with _pool_lock:
        if "pool" not in _pool:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["labels.pdf"])
            workers = max(1, min(4, os.cpu_count() or 1))
            _pool["pool"] = ProcessPoolExecutor(
                max_workers=workers, mp_context=context, initializer=_follow_the_server
            )
        return _pool["pool"]


def _follow_the_server() -> None:
    """In each renderer: yield the CPU to the server, and exit as soon as it is gone.

    A server killed without its shutdown hook (SIGKILL, or uvicorn re-raising SIGTERM after its
    own shutdown) would otherwise leave its renderers, and the fork server they keep alive,
    waiting for work forever.
    """
    # Layout is background work: the server answering people keeps the CPU first.
    os.nice(RENDERER_NICENESS)
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()  # returns when the server's end of the pipe closes: it died
        os._exit(0)

    threading.Thread(target=watch, name="renderer-watch", daemon=True).start()


def _ready() -> bool:
    return True


async def warm_renderers() -> None:
    """Start the renderer processes now (weasyprint loaded once in the fork server), so that
    the first certificate after a start does not wait for them: a server's startup hook."""
    await asyncio.get_running_loop().run_in_executor(_renderers(), _ready)


def shutdown_renderers() -> None:
    """Stop the renderer processes (the server's shutdown hook)."""
    with _pool_lock:
        pool = _pool.pop("pool", None)
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)


async def html_to_pdf_async(
    html: str,
    *,
    pdfa: bool,
    search_path: Sequence[Path] = (),
    assets: Sequence[Path] = (),
) -> bytes:
    """`html_to_pdf` in a renderer process; the caller's event loop goes on meanwhile."""
    job = partial(
        html_to_pdf, html, pdfa=pdfa, search_path=tuple(search_path), assets=tuple(assets)
    )
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(_renderers(), job)
    except BrokenProcessPool:
        # A renderer died (killed, out of memory): start fresh ones and try once more.
        shutdown_renderers()
        return await loop.run_in_executor(_renderers(), job)


async def render_pdf_async(
    template_name: str,
    context: Mapping[str, Any],
    *,
    pdfa: bool,
    search_path: Sequence[Path] = (),
    assets: Sequence[Path] = (),
) -> bytes:
    """`render_pdf` for async code: the template is filled here, laid out in a renderer process.

    Call it outside any database transaction: a render takes a quarter of a second or more.
    """
    html = render_html(template_name, context, search_path=search_path)
    return await html_to_pdf_async(html, pdfa=pdfa, search_path=search_path, assets=assets)
