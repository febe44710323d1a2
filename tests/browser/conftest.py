"""The browser tier's fixture: one headless Chromium per test module."""

import pytest

from tests.support.browser import driver_session

browser = pytest.fixture(scope="module", name="browser")(driver_session)
