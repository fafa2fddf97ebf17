"""Test configuration: one migrated database per run, SQLite or a throwaway PostgreSQL cluster.

`make test` runs the suite on SQLite, then the `db`-marked tests again with
REEMPLOI_TEST_ENGINE=postgres.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import clear_tables, run

_cluster = None


def pytest_configure(config: pytest.Config) -> None:
    global _cluster
    data_dir = Path(tempfile.mkdtemp(prefix="reemploi-test-"))
    os.environ["REEMPLOI_DATA_DIR"] = str(data_dir)
    os.environ["PICCOLO_CONF"] = "web.piccolo_conf"
    # Tests run services on short-lived loops; a pool would outlive them.
    os.environ["REEMPLOI_DB_POOL"] = "0"
    os.environ.setdefault("REEMPLOI_SECRET_KEY", "test-secret-key-not-for-production")
    if os.environ.get("REEMPLOI_TEST_ENGINE") == "postgres":
        from tests.pgcluster import Cluster

        _cluster = Cluster()
        os.environ["REEMPLOI_DATABASE_URL"] = _cluster.start()
    else:
        os.environ.pop("REEMPLOI_DATABASE_URL", None)
    from web.database import migrate

    run(migrate())


def pytest_unconfigure(config: pytest.Config) -> None:
    if _cluster is not None:
        _cluster.stop()


def pytest_report_header(config: pytest.Config) -> str:
    return f"database: {os.environ.get('REEMPLOI_DATABASE_URL') or 'SQLite'}"


@pytest.fixture
def db(request: pytest.FixtureRequest) -> Iterator[None]:
    """A database emptied of every row before the test, and self-audited after it (DESIGN 2)."""
    from loans import documents

    run(clear_tables())
    # Stored documents go with the rows that named them: the audit would call them orphans.
    shutil.rmtree(documents.folder(), ignore_errors=True)
    yield
    if request.node.get_closest_marker("breaks_invariants") is None:
        from web.selfcheck import audit

        violations = run(audit())
        if violations:
            sentences = "\n".join(f"- {v.sentence}" for v in violations)
            pytest.fail(f"L'auto-contrôle trouve {len(violations)} anomalie(s) :\n{sentences}")


@pytest.fixture
def engine_name() -> str:
    return "postgres" if os.environ.get("REEMPLOI_DATABASE_URL") else "sqlite"


@pytest.fixture
def client(db: None) -> Iterator[object]:
    """The application, served in-process by Litestar's test client."""
    from litestar.testing import TestClient

    from web.app import create_app

    with TestClient(create_app(), base_url="http://testserver.local") as test_client:
        yield test_client


@pytest.fixture
def tokens(db: None) -> dict[str, str]:
    """A bearer token per role."""
    from web.accounts import create_token
    from web.roles import Role

    return {role.value: run(create_token(f"test-{role.value}", role.value)) for role in Role}


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """The real server (`reemploi serve`, uvicorn) for the browser tests of one module."""
    from tests.server import running_server

    with running_server(workers=1) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's Chromium driven by Playwright, shared by one module's tests."""
    from tests.browser import launch

    yield from launch()
