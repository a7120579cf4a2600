"""meter_bridge.signing: the reading's typed data, GSRN check digits and meter ids."""

import re

import pytest

from meter_bridge.signing import (
    Reading,
    ReadingError,
    gs1_check_digit,
    gsrn_is_valid,
    meter_id,
    typed_data,
)

ID = b"\x01" * 32
DIGEST = b"\x02" * 32
SALT = b"0123456789abcdef"


def test_typed_data_is_the_documented_shape():
    data = typed_data(Reading(ID, 3_600, 10, 20, DIGEST), 31_337, "0x" + "aa" * 20)
    assert data["primaryType"] == "Reading"
    assert [field["name"] for field in data["types"]["Reading"]] == [
        "meterId",
        "intervalBegin",
        "intervalEnd",
        "importWh",
        "exportWh",
        "dataDigest",
    ]
    assert data["message"]["intervalBegin"] == 0  # a baseline
    assert [field["type"] for field in data["types"]["Reading"]] == [
        "bytes32",
        "uint64",
        "uint64",
        "uint64",
        "uint64",
        "bytes32",
    ]
    assert data["domain"] == {
        "name": "OpenKWh SmartMeterBackend",
        "version": "1",
        "chainId": 31_337,
        "verifyingContract": "0x" + "aa" * 20,
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"meter_id": b"\x01" * 31}, "meter_id must be 32 bytes"),
        ({"data_digest": "ab" * 32}, "data_digest must be 32 bytes"),
        ({"interval_end": -1}, "interval_end must be an integer in [0, 2**64)"),
        ({"import_wh": 2**64}, "import_wh must be an integer in [0, 2**64)"),
        ({"export_wh": 1.5}, "export_wh must be an integer in [0, 2**64)"),
        ({"export_wh": True}, "export_wh must be an integer in [0, 2**64)"),
    ],
)
def test_reading_rejects_out_of_range_fields(change, message):
    fields = {
        "meter_id": ID,
        "interval_end": 3_600,
        "import_wh": 1,
        "export_wh": 2,
        "data_digest": DIGEST,
    } | change
    with pytest.raises(ReadingError, match=re.escape(message)):
        Reading(**fields)


def test_gs1_check_digit_matches_a_published_ean13():
    assert gs1_check_digit("400638133393") == 1  # EAN-13 4006381333931


@pytest.mark.parametrize(
    ("gsrn", "valid"),
    [
        ("571313100000000010", True),
        ("571313100000000011", False),
        ("57131310000000001", False),
        ("57131310000000001x", False),
    ],
)
def test_gsrn_is_valid(gsrn, valid):
    assert gsrn_is_valid(gsrn) is valid


def test_meter_id_is_salted():
    assert meter_id("571313100000000010", SALT) != meter_id("571313100000000010", SALT[::-1])
    assert len(meter_id("571313100000000010", SALT)) == 32


@pytest.mark.parametrize(
    ("gsrn", "salt", "message"),
    [
        ("571313100000000011", SALT, "not a valid 18-digit GSRN"),
        ("571313100000000010", b"short", "salt must be at least 16 bytes"),
    ],
)
def test_meter_id_rejects_bad_input(gsrn, salt, message):
    with pytest.raises(ReadingError, match=message):
        meter_id(gsrn, salt)
