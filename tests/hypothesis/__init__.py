"""Stateful property tests of the contracts.

Two campaign sizes: the small one runs in ``make test`` (30 sequences per
machine, 100 for the Wallet); ``make fuzz`` sets ``OPENKWH_FUZZ=1`` and runs
each machine for ``OPENKWH_FUZZ_EXAMPLES`` sequences (3,600 by default: about
an hour per machine here, a sequence taking about a second), and prints
hypothesis's statistics.
"""

import functools
import os
from pathlib import Path

import boa
from hypothesis import settings

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"


@functools.cache
def deployer(name: str):
    """The deployer of ``contracts/<name>.vy``, compiled when a machine first
    deploys it: collecting the tests (``pytest -k ...``) compiles nothing."""
    return boa.load_partial(CONTRACTS / f"{name}.vy")


def campaign(examples: int, steps: int) -> settings:
    """The settings of a state machine: ``examples`` sequences of up to ``steps``
    rules in ``make test``, the long campaign under ``make fuzz``."""
    if os.environ.get("OPENKWH_FUZZ"):
        examples = int(os.environ.get("OPENKWH_FUZZ_EXAMPLES", "3600"))
    return settings(max_examples=examples, stateful_step_count=steps, deadline=None)
