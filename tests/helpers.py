"""Small helpers shared by the contract tests."""

from contextlib import contextmanager

import boa
import pytest
from boa.contracts.base_evm_contract import BoaError

from openkwh.chain import deal_fields


def events(contract, name: str) -> list:
    """The decoded events called ``name`` logged by the last call to ``contract``.

    Read them right after the call: a later view call replaces "the last call".
    """
    return [event for event in contract.get_logs() if type(event).__name__ == name]


def only_event(contract, name: str):
    """The one event called ``name`` from the last call; fails when there is not exactly one."""
    found = events(contract, name)
    assert len(found) == 1, f"expected one {name} event, got {found}"
    return found[0]


# The order of secp256k1's group: a signature (r, s) has a twin (r, n - s)
# that recovers the same signer unless the verifier insists on low s.
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def high_s_twin(v: int, r: int, s: int) -> tuple[int, int, int]:
    """The malleated twin of a low-s signature: same signer, s flipped, v flipped."""
    return (55 - v, r, SECP256K1_N - s)


def made_deal(exchange) -> tuple:
    """(deal id, terms) of the deal the last call to ``exchange`` made, as ``settle``
    takes them: the Exchange keeps only their hash, its DealMade event has them."""
    event = only_event(exchange, "DealMade")
    return event.deal_id, tuple(getattr(event, field) for field in deal_fields(exchange.abi))


def values(event) -> tuple:
    """An event's decoded fields in declaration order, without the emitting address.

    The standard ERC events name their fields with a leading underscore
    (``_from``, ``_id``), which the decoded named tuple cannot keep as names.
    """
    return tuple(event)[1:]


@contextmanager
def reverts_in_callee(reason: str):
    """``boa.reverts`` for a revert raised by a contract that the called contract
    calls: boa matches the outermost frame only, this matches any frame."""
    with pytest.raises(BoaError) as caught:
        yield
    frames = [frame for frame in caught.value.stack_trace if not isinstance(frame, str)]
    reasons = {frame.pretty_vm_reason for frame in frames} | {
        frame.error_detail for frame in frames
    }
    assert reason in reasons, f"{reason!r} not among {reasons}"


def tracer_depth() -> int:
    """How many of boa's SHA3 tracers wrap py-evm's SHA3 opcode."""
    op, depth = boa.env.evm.vm.state.computation_class.opcodes[0x20], 0
    while hasattr(op, "sha3") and hasattr(op, "env"):
        op, depth = op.sha3, depth + 1
    return depth


def collapse_tracers() -> None:
    """Leaves boa's SHA3 and SSTORE tracers one deep: every boa environment made
    wraps them again (tests/conftest.py's one_opcode_tracer says why). One is
    kept, tracing into the current environment, and calls the real opcode."""
    opcodes = boa.env.evm.vm.state.computation_class.opcodes
    for code, inner in ((0x20, "sha3"), (0x55, "sstore")):
        outer = opcodes[code]
        real = getattr(outer, inner, None)
        while hasattr(real, inner) and hasattr(real, "env"):
            real = getattr(real, inner)
        if real is not None:
            setattr(outer, inner, real)
            outer.env = boa.env
