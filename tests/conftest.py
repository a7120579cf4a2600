pytest_plugins = [
    "tests.fixtures.accounts",
    "tests.fixtures.wallet",
    "tests.fixtures.chain",
    "tests.fixtures.meters",
    "tests.fixtures.operator",
    "tests.fixtures.registry",
]
