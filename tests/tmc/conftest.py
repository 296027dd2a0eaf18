"""Fixtures of the TMC tests: a fast consumer of the sandbox app, run inline or in a thread."""

from __future__ import annotations

import pytest

from trades.tmc.consumer import Consumer


@pytest.fixture(autouse=True)
def fast(settings):
    settings.TMC_COLLAPSE_SECONDS = 0.2
    settings.TMC_IDLE_SECONDS = 0.05
    settings.TOP_BACKOFF_CAP = 0.2
    settings.SYNC_LAG_SECONDS = 4


@pytest.fixture
def consumer(sandbox_app) -> Consumer:
    return Consumer(sandbox_app)
