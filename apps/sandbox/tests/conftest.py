"""The ``sandbox`` fixture: in-process routing plus a clean fault table per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from apps.sandbox.testing import SandboxHarness, sandbox_fixture


@pytest.fixture
def sandbox(db) -> Iterator[SandboxHarness]:
    yield from sandbox_fixture()
