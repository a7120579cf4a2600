"""Token amounts as people write them, to base units and back, exactly (issue 13)."""

import pytest

from openkwh.commands.actions import format_units, to_base_units


@pytest.mark.parametrize(
    ("text", "decimals", "units"),
    [
        ("12.5", 18, 12_500_000_000_000_000_000),
        ("12,5", 18, 12_500_000_000_000_000_000),
        ("0.000000000000000001", 18, 1),
        ("1_000", 6, 1_000_000_000),
        ("3", 0, 3),
        # beyond a float's 53 bits: exact all the same
        ("123456789.123456789123456789", 18, 123_456_789_123_456_789_123_456_789),
    ],
)
def test_amounts_become_exact_base_units(text, decimals, units):
    assert to_base_units(text, decimals) == units
    assert to_base_units(format_units(units, decimals), decimals) == units


@pytest.mark.parametrize(
    ("text", "decimals", "message"),
    [
        ("0.0000000000000000001", 18, "finer than the 18 decimals"),
        ("0.5", 0, "finer than the 0 decimals"),
        ("0", 18, "must be positive"),
        ("-1", 18, "must be positive"),
        ("Infinity", 18, "must be positive"),
        ("NaN", 18, "must be positive"),
        ("12.5.1", 18, "not an amount"),
        ("", 18, "not an amount"),
    ],
)
def test_amounts_that_are_not_exact_or_not_positive_are_refused(text, decimals, message):
    with pytest.raises(ValueError, match=message):
        to_base_units(text, decimals)


@pytest.mark.parametrize(
    ("units", "decimals", "text"),
    [
        (12_500_000_000_000_000_000, 18, "12.5"),
        (10**30, 18, "1000000000000"),
        (1, 18, "0.000000000000000001"),
        (0, 18, "0"),
    ],
)
def test_base_units_read_as_a_person_reads_them(units, decimals, text):
    assert format_units(units, decimals) == text
