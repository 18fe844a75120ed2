"""Fixtures of the payments tests."""

from __future__ import annotations

import pytest
from tests.payments.support import Shop

from commcredits.services.runtime import Runtime


@pytest.fixture
def shop(rt: Runtime) -> Shop:
    return Shop(rt)
