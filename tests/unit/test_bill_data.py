"""A customer's bill data: factors in exact mg/kWh, grams rounded once, the signed
request the auditor recovers the customer's key from, and ECIES to that key."""

import dataclasses
import hashlib

import pytest
from eth_account import Account
from eth_keys import keys
from eth_utils import keccak

from openkwh.emissions import bill

CUSTOMER = Account.from_key(keccak(text="bill-customer"))
STRANGER = Account.from_key(keccak(text="bill-stranger"))
REGISTRY = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
REQUEST = bill.Request(CUSTOMER.address, 31_337, REGISTRY, 7, 1_330_578_000, 1_330_664_400)
DATA = b"<feed>the raw bill</feed>"


@pytest.mark.parametrize(
    ("text", "mg"), [("98.5", 98_500), ("98,5", 98_500), ("0", 0), ("385.613", 385_613)]
)
def test_a_factor_in_g_per_kwh_is_exact_in_mg(text, mg):
    assert bill.mg_per_kwh(text) == mg
    assert bill.show_factor(mg) == text.replace(",", ".")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("98.5001", "finer than the milligram"),
        ("-1", "zero or more"),
        ("abc", "not a factor"),
        ("4294968", "above the registry's largest factor"),
    ],
)
def test_a_factor_that_cannot_be_recorded_exactly_is_refused(text, message):
    with pytest.raises(bill.BillDataError, match=message):
        bill.mg_per_kwh(text)


def test_grams_are_rounded_once_half_up():
    assert bill.grams(1_000, 500) == 1  # 500_000 ug: half a gram, up
    assert bill.grams(1_000, 499) == 0
    assert bill.grams(93_846, 385_600) == 36_187  # 36_187_017_600 ug
    assert bill.grams(93_846, 210_000) == 19_708  # 19_707_660_000 ug


def test_the_auditor_recovers_the_customers_key_and_only_it_decrypts():
    signed = bill.sign_request(CUSTOMER, REQUEST)
    public = bill.recover_public_key(signed, REQUEST)
    assert public == keys.PrivateKey(CUSTOMER.key).public_key.to_bytes()
    ciphertext = bill.encrypt(public, DATA)
    assert DATA not in ciphertext
    digest = hashlib.sha256(DATA).digest()
    assert bill.decrypt(CUSTOMER.key, ciphertext, digest) == DATA
    with pytest.raises(bill.BillDataError, match="encrypted to another account's key"):
        bill.decrypt(STRANGER.key, ciphertext, digest)
    with pytest.raises(bill.BillDataError, match="does not match the sha256 the statement records"):
        bill.decrypt(CUSTOMER.key, ciphertext, hashlib.sha256(b"other").digest())


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("begin", REQUEST.begin + 3_600, "the signed request's begin is"),
        ("end", REQUEST.end - 3_600, "the signed request's end is"),
        ("chain_id", 1, "the signed request's chain id is 1"),
        ("registry", "0x" + "11" * 20, "the signed request's registry is"),
        ("request_id", 8, "the signed request's request id is 8"),
    ],
)
def test_the_signature_binds_the_period_the_chain_and_the_request(field, value, message):
    """A request signed for another period, chain, registry or request is not this one."""
    other = dataclasses.replace(REQUEST, **{field: value})
    with pytest.raises(bill.BillDataError, match=message):
        bill.recover_public_key(bill.sign_request(CUSTOMER, other), REQUEST)


def test_an_edited_request_no_longer_recovers_the_customer():
    """The signed fields edited after signing: the signature names someone else."""
    signed = bill.sign_request(CUSTOMER, dataclasses.replace(REQUEST, begin=REQUEST.begin - 3_600))
    signed["begin"] = REQUEST.begin
    with pytest.raises(bill.BillDataError, match="not by the customer"):
        bill.recover_public_key(signed, REQUEST)


def test_a_request_signed_by_another_account_is_refused():
    forged = bill.sign_request(STRANGER, REQUEST)
    with pytest.raises(
        bill.BillDataError, match=f"signed by {STRANGER.address}, not by the customer"
    ):
        bill.recover_public_key(forged, REQUEST)


def test_a_file_that_is_not_a_signed_request_says_so():
    with pytest.raises(bill.BillDataError, match="not a signed request"):
        bill.recover_public_key({"account": CUSTOMER.address}, REQUEST)


def test_review_request_statement_checks_out_before_it_sends(tmp_path):
    """`prosumer request-statement --out /no/such/dir/r.json` sent the request
    on anvil, then failed to write the signed request: the customer is left
    with an open request, no signed message for the auditor, and no command to
    sign it again. The check belongs before the transaction."""
    from unittest import mock

    from openkwh.commands import emissions as commands

    actor = mock.MagicMock()
    out = tmp_path / "no-such-dir" / "request.json"
    with (
        mock.patch.object(commands, "registry"),
        pytest.raises(ValueError, match="is not a folder this can write to"),
    ):
        commands.request_statement(actor, "0x" + "11" * 20, "DK1", "X", 0, 3_600, out)
    assert not actor.send.called


@pytest.mark.parametrize("text", ["F0201010=820.5", "f02010100=820.5", "F01050100=0", "gas=820"])
def test_review_publish_fuel_factors_takes_aib_non_renewable_codes_only(text):
    """On anvil `publisher publish-fuel-factors --fuel F0201010=820.5` (a digit
    short) was published: retirements of F02010100 then find no factor and every
    statement of their hours reverts until a correction. The backend accepts
    only F and 8 digits, and F01... never reaches the table."""
    import argparse

    from openkwh.commands import emissions as commands

    with pytest.raises(argparse.ArgumentTypeError, match=r"AIB EECS fuel code|renewable fuel"):
        commands._fuel(text)
    assert commands._fuel("F02010100=820.5") == ("F02010100", 820_500)
