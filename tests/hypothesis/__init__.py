"""Stateful property tests of the contracts.

Two campaign sizes: the small one runs in ``make test`` (30 sequences per
machine, 100 for the Wallet). ``make fuzz`` sets ``OPENKWH_FUZZ_MINUTES`` (60
by default) and runs each machine for that long on the wall clock, in rounds
of fresh sequences, then prints how many sequences it ran; or, with
``OPENKWH_FUZZ=1`` and ``OPENKWH_FUZZ_EXAMPLES`` instead, a fixed number of
sequences per machine. The time budget only sizes the campaign: nothing
fails for being slow.
"""

import functools
import os
import time
from pathlib import Path

import boa
import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
OUT = Path(__file__).resolve().parents[2] / "out" / "fuzz"  # a timed campaign's counts


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


ROUND = 50  # sequences per round of a timed campaign


def timed_campaign(machine, steps: int):
    """A test that runs ``machine`` for ``OPENKWH_FUZZ_MINUTES`` of wall-clock
    time, in rounds of ``ROUND`` fresh sequences of up to ``steps`` rules, and
    reports the sequences run; skipped unless that variable is set."""
    minutes = float(os.environ.get("OPENKWH_FUZZ_MINUTES") or 0)

    @pytest.mark.skipif(not minutes, reason="a long campaign: make fuzz")
    def test_campaign(capsys):
        start = time.monotonic()
        rounds = 0
        while rounds == 0 or time.monotonic() - start < minutes * 60:
            run_state_machine_as_test(
                machine,
                settings=settings(
                    max_examples=ROUND, stateful_step_count=steps, deadline=None, database=None
                ),
            )
            rounds += 1
        line = (
            f"{machine.__name__}: {rounds * ROUND:,} sequences of up to {steps} rules "
            f"in {time.monotonic() - start:,.0f} s, no property violated"
        )
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / f"{machine.__name__}.txt").write_text(line + "\n")
        with capsys.disabled():
            print("\n" + line)

    return test_campaign
