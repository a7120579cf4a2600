import boa
import pytest

from tests.helpers import collapse_tracers

pytest_plugins = [
    "tests.fixtures.accounts",
    "tests.fixtures.wallet",
    "tests.fixtures.chain",
    "tests.fixtures.meters",
    "tests.fixtures.operator",
    "tests.fixtures.registry",
    "tests.fixtures.exchange",
    "tests.fixtures.emissions",
    "tests.fixtures.roots",
    "tests.fixtures.auction",
    "tests.fixtures.hub",
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


@pytest.fixture(autouse=True)
def one_opcode_tracer():
    """Keeps boa's SHA3 and SSTORE tracers one deep.

    Every boa environment made (the commands' tests make one per command, as each
    command's process does) wraps the tracer opcodes of py-evm's computation class
    again, in a dict the classes share: after a few hundred in one worker, a SHA3
    recursed a thousand deep and a test that happened to run later failed with a
    RecursionError. One tracer is kept, tracing into the current environment,
    and calls the real opcode directly."""
    yield
    collapse_tracers()


# A state machine's campaign in `make test` takes a minute or so (tests/hypothesis).
STATE_MACHINE_SECONDS = 60


def pytest_collection_modifyitems(config, items):
    """Files with slow tests first, slowest first; the rest as collected.

    `make test` runs the files on two pytest-xdist workers in collection order
    (``--dist loadfile --no-loadscope-reorder``): the long ones start at once and
    the many short ones fill in behind them, so that the workers end together
    rather than one waiting on a long file picked up last.
    """
    seconds: dict = {}
    for item in items:
        marker = item.get_closest_marker("slow")
        estimate = marker.kwargs.get("seconds", 0) if marker else 0
        if estimate == 0 and item.path.parent.name == "hypothesis":
            estimate = STATE_MACHINE_SECONDS
        seconds[item.path] = seconds.get(item.path, 0) + estimate
    order = {path: index for index, path in enumerate(dict.fromkeys(i.path for i in items))}
    items.sort(key=lambda item: (-seconds[item.path], order[item.path]))
