import boa
import pytest

pytest_plugins = [
    "tests.fixtures.accounts",
    "tests.fixtures.wallet",
    "tests.fixtures.chain",
    "tests.fixtures.meters",
    "tests.fixtures.operator",
    "tests.fixtures.registry",
    "tests.fixtures.exchange",
]


@pytest.fixture(autouse=True)
def fresh_traces():
    """Starts each test with empty keccak and SSTORE traces.

    boa keeps every 64-byte keccak preimage to show storage in revert messages.
    Across tests, certificate ids (keccak of a meter id and an interval begin)
    look like mapping keys of other contracts, and boa's storage dump then fails
    while formatting an expected revert. The traces feed messages only.
    """
    boa.env.sha3_trace = {}
    boa.env.sstore_trace = {}
