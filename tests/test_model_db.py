"""The model-based test (tests/model_machine.py) against the real server, on the test engine.

`make test` runs a bounded number of steps on SQLite and PostgreSQL; `make soak` sets
REEMPLOI_SOAK_STEPS (at least 2,000) and prints the run's figures.
"""

from __future__ import annotations

import os
import time

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from tests.model_machine import FIGURES, REFUSALS, WorkshopMachine

pytestmark = pytest.mark.db

STEPS_PER_EXAMPLE = 20


def test_random_operations_by_every_role_keep_every_invariant(db: None, server: str) -> None:
    total = int(os.environ.get("REEMPLOI_SOAK_STEPS", "0")) or 8 * STEPS_PER_EXAMPLE
    WorkshopMachine.url = server
    FIGURES.clear()
    REFUSALS.clear()
    started = time.monotonic()
    soak = bool(os.environ.get("REEMPLOI_SOAK_STEPS"))
    # Hypothesis may end an example before its last step: a soak goes on until it has its count.
    while FIGURES["audits"] < total:
        missing = total - FIGURES["audits"]
        run_state_machine_as_test(
            WorkshopMachine,
            settings=settings(
                max_examples=max(1, missing // STEPS_PER_EXAMPLE),
                stateful_step_count=STEPS_PER_EXAMPLE,
                deadline=None,
                derandomize=not soak,
                suppress_health_check=list(HealthCheck),
            ),
        )
        if not soak:
            break
    figures = {
        "steps": FIGURES["audits"],
        "operations": FIGURES["operations"],
        "violations": FIGURES["violations"],
        "seconds": round(time.monotonic() - started, 1),
    }
    print("\nmodel-based run:", figures)
    print("by operation:", dict(sorted((k, v) for k, v in FIGURES.items() if ":" in k)))
    print("most frequent refusals:", REFUSALS.most_common(12))
    assert FIGURES["violations"] == 0
    assert FIGURES["operations"] > 0
