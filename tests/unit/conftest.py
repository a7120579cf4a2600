"""The contract tests deploy once per module (the fixtures in tests/fixtures/ are
module-scoped) and each test runs in a boa anchor, as titanoboa's own tests do:
whatever a test changes (state, balances, the chain's time) is rolled back when
it ends, so no test sees another's and none depends on the order they run in."""

import boa
import pytest


@pytest.fixture(autouse=True)
def anchored():
    with boa.env.anchor():
        yield
