"""The shared chain client's names for the contracts' types agree with the contracts."""

import re
from pathlib import Path

import boa
import pytest
from vyper.compiler.output import build_abi_output

from openkwh.chain import MeterKind, deal_fields, order_fields
from openkwh.chain.types import as_dict, as_tuple

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"


def test_meter_kind_is_the_interfaces_flag_member_for_member():
    source = (CONTRACTS / "interfaces" / "ISmartMeterBackend.vyi").read_text()
    members = re.search(r"^flag MeterKind:\n((?:    \w+\n)+)", source, flags=re.M).group(1).split()
    # Vyper numbers a flag's members 1, 2, 4, … in the order declared.
    assert {name: 1 << i for i, name in enumerate(members)} == {k.name: k.value for k in MeterKind}


@pytest.fixture(scope="module")
def exchange_abi():
    return build_abi_output(boa.load_partial(str(CONTRACTS / "Exchange.vy")).compiler_data)


def _struct(name: str) -> list[str]:
    source = (CONTRACTS / "Exchange.vy").read_text()
    body = re.search(rf"^struct {name}:\n((?:    .+\n)+)", source, flags=re.M).group(1)
    return [line.split(":")[0].strip() for line in body.splitlines()]


def test_deal_and_order_fields_are_read_from_the_abi_in_the_contracts_order(exchange_abi):
    assert deal_fields(exchange_abi) == tuple(_struct("Deal"))
    assert order_fields(exchange_abi) == tuple(_struct("Order"))


def test_a_struct_goes_by_name_both_ways_and_a_wrong_length_is_refused(exchange_abi):
    fields = deal_fields(exchange_abi)
    values = tuple(range(len(fields)))
    assert as_tuple(fields, as_dict(fields, values)) == values
    with pytest.raises(ValueError, match="8 values for the 9 fields"):
        as_dict(fields, values[:-1])
    with pytest.raises(LookupError, match=r"no settle\(deal\) struct"):
        deal_fields([{"type": "function", "name": "nothing", "inputs": [], "outputs": []}])
