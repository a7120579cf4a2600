"""The suite's guard against boa's tracers nesting (tests/conftest.py)."""

import boa

from tests.helpers import collapse_tracers, tracer_depth


def test_tracers_wrapped_by_new_environments_collapse_to_one_that_still_traces():
    with boa.swap_env(boa.Env()):
        for _ in range(5):
            boa.Env()  # each wraps the shared SHA3 and SSTORE opcodes once more
        assert tracer_depth() >= 6
        collapse_tracers()
        assert tracer_depth() == 1
        boa.env.sha3_trace = {}
        hasher = boa.loads(
            "@external\ndef h(a: uint256, b: uint256) -> bytes32:\n"
            "    return keccak256(concat(convert(a, bytes32), convert(b, bytes32)))\n"
        )
        hasher.h(1, 2)
        assert len(boa.env.sha3_trace) == 1  # the 64-byte preimage, traced once
