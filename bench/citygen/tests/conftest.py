from __future__ import annotations

import pytest

import citygen


@pytest.fixture(scope="session")
def small() -> citygen.City:
    return citygen.generate("small", seed=1)


@pytest.fixture(scope="session")
def full() -> citygen.City:
    return citygen.generate("full", seed=1)
