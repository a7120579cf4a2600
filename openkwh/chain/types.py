"""The contracts' types, by name: the meter kinds and the structs the ABI describes.

A struct's field order is read from the ABI (its tuple's components), never
written out by position, so a client cannot fall out of step with the contract.
Vyper's ABI does not name a flag's members, so ``MeterKind`` is written here once,
and tests/unit/test_chain_types.py checks it against
contracts/interfaces/ISmartMeterBackend.vyi.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntFlag


class MeterKind(IntFlag):
    """SmartMeterBackend's ``flag MeterKind``: what a meter measures."""

    PRODUCTION = 1  # it exports: its surplus can be sold and certified
    CONSUMPTION = 2  # it imports: it can buy and retire certificates

    @property
    def words(self) -> str:
        """The kind as a person reads it."""
        return KIND_WORDS[int(self)]


BOTH = MeterKind.PRODUCTION | MeterKind.CONSUMPTION
KIND_WORDS = {1: "production", 2: "consumption", 3: "production and consumption"}
# The command line's names for the kinds.
KIND_CHOICES = {
    "production": MeterKind.PRODUCTION,
    "consumption": MeterKind.CONSUMPTION,
    "both": BOTH,
}


def _components(abi: list, function: str, argument: str | None) -> list[dict]:
    for item in abi:
        if item.get("type") == "function" and item.get("name") == function:
            params = item["outputs"] if argument is None else item["inputs"]
            for param in params:
                if argument is None or param["name"] == argument:
                    if "components" in param:
                        return param["components"]
                    if argument is None:  # a getter returning the fields themselves
                        return params
    raise LookupError(f"the ABI has no {function}({argument or ''}) struct")


def struct_fields(abi: list, function: str, argument: str | None = None) -> tuple[str, ...]:
    """The field names, in order, of the struct ``function`` takes as ``argument``
    (or returns, when ``argument`` is None)."""
    return tuple(component["name"] for component in _components(abi, function, argument))


def deal_fields(exchange_abi: list) -> tuple[str, ...]:
    """The Exchange's ``Deal`` struct, as ``settle(deal_id, deal)`` takes it."""
    return struct_fields(exchange_abi, "settle", "deal")


def order_fields(exchange_abi: list) -> tuple[str, ...]:
    """The Exchange's ``Order``, as ``orders(order_id)`` returns it."""
    return struct_fields(exchange_abi, "orders")


def as_tuple(fields: Sequence[str], values: dict) -> tuple:
    """A struct's values in the ABI's order, from a mapping by name."""
    return tuple(values[name] for name in fields)


def as_dict(fields: Sequence[str], values: Sequence) -> dict:
    """A struct returned by a call (a tuple) as a mapping by field name."""
    if len(fields) != len(values):
        raise ValueError(f"{len(values)} values for the {len(fields)} fields {fields}")
    return dict(zip(fields, values, strict=True))
