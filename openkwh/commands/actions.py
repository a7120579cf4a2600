"""What every role does on chain: admin, grid operator, issuing body,
installer, prosumer and keeper.

Each action is a plain function (web3 + an account + the deployments file), used
by the demo and the benchmarks, and a command of its role (``COMMANDS``), which
``openkwh ROLE COMMAND`` (openkwh/commands/cli.py) and ``python -m openkwh.commands.<role>`` run.

The money commands take tokens as a person writes them ("12.5" or "12,5": the
token's decimals are read from the chain, and an amount finer than they allow
is refused) and ether for `buy-tokens`; prices are tokens per kWh; times are
ISO 8601 or unix seconds. The functions take base units, as the contracts do.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.logs import DISCARD

from meter_bridge.signing import meter_id as meter_id_from_gsrn
from meter_bridge.signing import read_salt
from openkwh import auction as auction_model
from openkwh import forecast as forecasting
from openkwh.chain import (
    Deployment,
    DeploymentError,
    MeterKind,
    TransactionFailed,
    deal_fields,
    order_fields,
    transact,
    transact_all,
)
from openkwh.chain.types import KIND_CHOICES, as_dict
from openkwh.commands.deploy import DEPLOYMENTS_DIR, backend_problem, deployments_path
from openkwh.commands.network import ConnectionSetupError, add_network_arguments, connect_from_args

logger = logging.getLogger(__name__)


class Actor:
    """An account acting on one deployment."""

    def __init__(self, w3: Web3, account: LocalAccount, deployment: Deployment | dict):
        self.w3 = w3
        self.account = account
        self.deployment = Deployment.of(deployment)
        self.sent: list = []  # every receipt, approvals too, for the command's output

    def contract(self, name: str):
        return self.deployment.contract(self.w3, name)

    def send(self, call, value: int = 0):
        receipt = transact(self.w3, self.account, call, value)
        self.sent.append(receipt)
        return receipt

    def send_all(self, steps: list):
        """Sends ``steps`` in order once they all pass together in a simulation
        (an approval and the payment it is for): the last step's receipt."""
        receipts = transact_all(self.w3, self.account, steps)
        self.sent.extend(receipts)
        return receipts[-1]

    def with_account(self, account: LocalAccount) -> Actor:
        """Another account acting on the same deployment."""
        return Actor(self.w3, account, self.deployment)


# EXCHANGE


def settlement(event, exchange_abi: list) -> tuple:
    """(deal id, terms) from a DealMade event, the terms in the order of the ABI's ``Deal``:
    the Exchange keeps only the terms' hash."""
    return event["args"]["deal_id"], tuple(
        event["args"][name] for name in deal_fields(exchange_abi)
    )


def order(exchange, order_id: int) -> dict:
    """An order's terms by field name, as ``orders(order_id)`` returns them."""
    return as_dict(order_fields(exchange.abi), exchange.functions.orders(order_id).call())


# ADMIN


def set_issuing_body(actor: Actor, sector: str, body: str, appointed: bool = True):
    smb = actor.contract("SmartMeterBackend")
    receipt = actor.send(smb.functions.set_issuing_body(sector, body, appointed))
    logger.info(
        "%s %s the issuing body of %s", "appointed" if appointed else "removed", body, sector
    )
    return receipt


def grant_operator(actor: Actor, account: str):
    """Makes ``account`` operator of both backends."""
    receipts = []
    for name in ("SmartMeterBackend", "OperatorBackend"):
        backend = actor.contract(name)
        role = backend.functions.OPERATOR_ROLE().call()
        receipts.append(actor.send(backend.functions.grantRole(role, account)))
    return receipts


# ISSUING BODY


def certify_installer(actor: Actor, sector: str, installer: str):
    smb = actor.contract("SmartMeterBackend")
    receipt = actor.send(smb.functions.certify_installer(sector, installer))
    logger.info("certified %s as an installer of %s", installer, sector)
    return receipt


def withdraw_certification(actor: Actor, sector: str, installer: str):
    smb = actor.contract("SmartMeterBackend")
    return actor.send(smb.functions.withdraw_certification(sector, installer))


def revoke_certificate(actor: Actor, meter_id: bytes, begin: int, reason: str):
    """Revokes the certificate of the meter's production in the interval from ``begin``,
    then voids each of its retirements (its CertificateRetired logs): Scope 2
    statements made from then on count those Wh as unmatched."""
    registry = actor.contract("GGORegistry")
    cert = registry.functions.certificate_id(meter_id, begin).call()
    receipt = actor.send(registry.functions.revoke(cert, reason))
    logger.info("revoked the certificate of the interval from %s (id %d)", _when(begin), cert)
    first = actor.deployment["GGORegistry"].block
    retired: dict[bytes, int] = {}
    for event in registry.events.CertificateRetired().get_logs(
        from_block=first, argument_filters={"id": cert}
    ):
        consumer = event["args"]["consumption_meter_id"]
        retired[consumer] = retired.get(consumer, 0) + event["args"]["wh"]
    for consumer, wh in retired.items():
        actor.send(registry.functions.void_retirement(cert, consumer, wh))
        logger.info("voided its %d Wh retired against meter 0x%s", wh, consumer.hex())
    return receipt


# INSTALLER


# A household connection: a 3 x 25 A main fuse at 230 V.
HOUSEHOLD_CONNECTION_W = 17_250


def register_meter(
    actor: Actor,
    meter_id: bytes,
    signer: str,
    owner: str,
    sector: str,
    kind: str,
    capacity_w: int = 0,
    tech_code: str = "",
    fuel_code: str = "",
    connection_w: int = HOUSEHOLD_CONNECTION_W,
    by_root: bool = False,
):
    """Registers a meter for ``owner`` to accept. ``capacity_w`` (producers)
    bounds the production a reading may report and ``connection_w`` (every
    meter, the main fuse) the consumption. ``by_root`` registers it, for
    good, to publish by Merkle root (MeasurementRoots) instead of readings."""
    smb = actor.contract("SmartMeterBackend")
    args = [meter_id, signer, owner, sector, tech_code, fuel_code, capacity_w, connection_w]
    args.append(int(KIND_CHOICES[kind]))
    if by_root:
        args.append(True)
    receipt = actor.send(smb.functions.register_meter(*args))
    logger.info(
        "registered meter 0x%s (%s, %s) with signer %s, for %s to accept",
        meter_id.hex(),
        kind,
        sector,
        signer,
        owner,
    )
    return receipt


# PROSUMER


def accept_meter(actor: Actor, meter_id: bytes, max_debt: int = 0):
    """Takes a meter offered to the actor (by its installer or its owner), with
    the meter's debt at the operator, if it is at most ``max_debt`` base units."""
    smb = actor.contract("SmartMeterBackend")
    debt = smb.functions.meter_debt(meter_id).call()
    if debt > max_debt:
        raise ValueError(
            f"the meter carries a debt of {debt} token base units at the operator "
            f"(bills its ledger did not pay): to take it on, accept with --max-debt {debt}"
        )
    receipt = actor.send(smb.functions.accept_meter(meter_id, max_debt))
    logger.info(
        "accepted meter 0x%s%s", meter_id.hex(), f", with its debt of {debt}" if debt else ""
    )
    return receipt


def offer_meter(actor: Actor, meter_id: bytes, new_owner: str):
    """Offers the actor's meter to ``new_owner``, who must accept it."""
    smb = actor.contract("SmartMeterBackend")
    return actor.send(smb.functions.offer_meter(meter_id, new_owner))


def open_ledger(actor: Actor, backend: str, meter_id: bytes, open_: bool = True):
    """Lets the operator take the bills of a meter of a backend trusted after the
    deployment from the actor's ledger (or stops it)."""
    ob = actor.contract("OperatorBackend")
    return actor.send(ob.functions.open_ledger(backend, meter_id, open_))


def approve_signer(actor: Actor, meter_id: bytes, signer: str):
    """The meter's owner agrees to a new signing key, for an installer to put in place."""
    smb = actor.contract("SmartMeterBackend")
    return actor.send(smb.functions.approve_signer(meter_id, signer))


def rotate_signer(actor: Actor, meter_id: bytes, signer: str, new_device: bool = False):
    smb = actor.contract("SmartMeterBackend")
    return actor.send(smb.functions.rotate_signer(meter_id, signer, new_device))


def to_base_units(text: str, decimals: int, unit: str = "tokens") -> int:
    """Exact base units of an amount written with ',' or '.' as decimal separator:
    "12,5" with 18 decimals is 12_500_000_000_000_000_000. Refuses a negative or
    zero amount and one finer than ``decimals`` allow (no rounding)."""
    try:
        amount = Decimal(text.strip().replace("_", "").replace(",", "."))
    except InvalidOperation:
        raise ValueError(f"not an amount of {unit}: {text!r}") from None
    if not amount.is_finite() or amount <= 0:
        raise ValueError(f"the amount of {unit} must be positive: {text!r}")
    scaled = amount.scaleb(decimals)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{text} {unit} is finer than the {decimals} decimals {unit} have")
    return int(scaled)


def format_units(amount: int, decimals: int) -> str:
    """Base units as a person reads them: 12_500_000_000_000_000_000 with 18
    decimals is "12.5"; exact, no rounding."""
    return format(Decimal(amount).scaleb(-decimals).normalize(), "f")


class _Token:
    """A token and its figures, for the money commands: the Wallet, or the
    token the contract ``of`` settles in (the operator's ledgers, the Exchange's
    escrow and credits), read from the chain."""

    def __init__(self, actor: Actor, of: str | None = None):
        wallet = actor.contract("Wallet")
        address = actor.contract(of).functions.token().call() if of else wallet.address
        self.contract = actor.w3.eth.contract(address=address, abi=wallet.abi)
        self.decimals = self.contract.functions.decimals().call()
        self.symbol = self.contract.functions.symbol().call()

    def units(self, text: str) -> int:
        return to_base_units(text, self.decimals, self.symbol)

    def show(self, amount: int) -> str:
        return f"{format_units(amount, self.decimals)} {self.symbol}"


def buy_tokens(actor: Actor, ether: str):
    """Buys tokens from the Wallet's sale for ``ether`` (e.g. "0.5")."""
    token = _Token(actor)
    wei = to_base_units(ether, 18, "ether")
    balance = actor.w3.eth.get_balance(actor.account.address)
    if balance < wei:
        raise ValueError(f"the account holds {format_units(balance, 18)} ether: nothing sent")
    receipt = actor.send(token.contract.functions.buyTokens(), value=wei)
    held = token.contract.functions.balanceOf(actor.account.address).call()
    logger.info("bought tokens for %s ether; you hold %s", ether, token.show(held))
    return receipt


def _pay_in(actor: Actor, token: _Token, spender: str, amount: int, what: str) -> list:
    """Before ``spender`` takes ``amount`` (``what``, in the refusal): checks the
    balance; the approval of ``spender`` to send first if its allowance is
    short (none else), for ``Actor.send_all`` to simulate with the payment."""
    held = token.contract.functions.balanceOf(actor.account.address).call()
    if held < amount:
        raise ValueError(
            f"the account holds {token.show(held)}, less than the {token.show(amount)} "
            f"{what}: nothing sent"
        )
    if token.contract.functions.allowance(actor.account.address, spender).call() < amount:
        return [token.contract.functions.approve(spender, amount)]
    return []


def deposit(actor: Actor, amount: str):
    """Prepays the actor's operator ledger with ``amount`` tokens, approving the
    OperatorBackend first if its allowance is short; nothing is sent when the
    account holds too little."""
    token = _Token(actor, "OperatorBackend")
    ob = actor.contract("OperatorBackend")
    owner = actor.account.address
    units = token.units(amount)
    approval = _pay_in(actor, token, ob.address, units, "to deposit")
    debt = ob.functions.debt_of(owner).call()
    receipt = actor.send_all([*approval, ob.functions.deposit(units)])
    paid = min(debt, units)
    logger.info(
        "deposited %s%s; the ledger holds %s",
        token.show(units),
        f" ({token.show(paid)} of it paid your debt)" if paid else "",
        token.show(ob.functions.balance_of(owner).call()),
    )
    return receipt


def withdraw(actor: Actor, amount: str):
    """Pays ``amount`` tokens out of the actor's operator ledger."""
    token = _Token(actor, "OperatorBackend")
    ob = actor.contract("OperatorBackend")
    units = token.units(amount)
    ledger = ob.functions.balance_of(actor.account.address).call()
    if ledger < units:
        raise ValueError(
            f"the ledger holds {token.show(ledger)}, less than {token.show(units)}: nothing sent"
        )
    receipt = actor.send(ob.functions.withdraw(units))
    logger.info("withdrew %s; the ledger holds %s", token.show(units), token.show(ledger - units))
    return receipt


def _withdraw_credit(actor: Actor, name: str):
    """Collects the actor's credit on the Exchange or the Auction (their same API)."""
    token = _Token(actor, name)
    market = actor.contract(name)
    credit = market.functions.credit_of(actor.account.address).call()
    if credit == 0:
        raise ValueError(f"no credit on the {name} to withdraw: nothing sent")
    receipt = actor.send(market.functions.withdraw_credit())
    logger.info("withdrew %s of %s credit", token.show(credit), name)
    return receipt


def withdraw_credit(actor: Actor):
    """Collects the actor's credit on the Exchange: payments for Wh sold, refunds."""
    return _withdraw_credit(actor, "Exchange")


def pay_meter_debt(actor: Actor, meter_id: bytes, amount: str | None = None):
    """Pays a meter's debt at the operator from the actor's ledger: ``amount``
    tokens, or as much of the debt as the ledger holds."""
    token = _Token(actor, "OperatorBackend")
    ob = actor.contract("OperatorBackend")
    smb = actor.contract("SmartMeterBackend")
    debt = ob.functions.meter_debt(smb.address, meter_id).call()
    ledger = ob.functions.balance_of(actor.account.address).call()
    if debt == 0:
        raise ValueError("the meter has no debt: nothing sent")
    units = min(debt, ledger) if amount is None else token.units(amount)
    if units == 0 or units > ledger:
        raise ValueError(f"the ledger holds {token.show(ledger)}: deposit first; nothing sent")
    if units > debt:
        raise ValueError(f"the meter's debt is {token.show(debt)}, less than that: nothing sent")
    receipt = actor.send(ob.functions.pay_meter_debt(smb.address, meter_id, units))
    logger.info("paid %s of the meter's debt; %s left", token.show(units), token.show(debt - units))
    return receipt


# TRADING


def _wh(kwh: str) -> int:
    return to_base_units(kwh, 3, "kWh")


def _price_per_wh(token: _Token, per_kwh: str) -> int:
    """Token base units per Wh of a price in tokens per kWh, exactly."""
    units = token.units(per_kwh)
    if units % 1_000:
        below = units - units % 1_000
        raise ValueError(
            f"a price of {per_kwh} {token.symbol}/kWh is not a whole number of base units "
            f"per Wh: the nearest valid prices are {format_units(below, token.decimals)} and "
            f"{format_units(below + 1_000, token.decimals)} {token.symbol}/kWh"
        )
    return units // 1_000


def _order_id(receipt, exchange) -> int:
    (event,) = exchange.events.OrderPlaced().process_receipt(receipt, errors=DISCARD)
    return event["args"]["order_id"]


def place_order(
    actor: Actor, side: str, meter_id: bytes, begin: int, kwh: str, price: str, retire: bool
):
    """An offer of the meter's production, or a bid for its consumption, for the
    interval beginning at ``begin``: ``kwh`` at ``price`` tokens per kWh."""
    token = _Token(actor, "Exchange")
    exchange = actor.contract("Exchange")
    wh, per_wh = _wh(kwh), _price_per_wh(token, price)
    if side == "offer":
        receipt = actor.send(exchange.functions.offer(meter_id, begin, wh, per_wh))
    else:
        approval = _pay_in(actor, token, exchange.address, wh * per_wh, "this needs in escrow")
        receipt = actor.send_all(
            [*approval, exchange.functions.bid(meter_id, begin, wh, per_wh, retire)]
        )
    logger.info(
        "%s %s kWh for the interval from %s at %s/kWh%s: order %d",
        "offered" if side == "offer" else "bid for",
        kwh,
        _when(begin),
        token.show(per_wh * 1_000),
        "" if side == "offer" else f" ({token.show(wh * per_wh)} in escrow)",
        _order_id(receipt, exchange),
    )
    return receipt


def take_order(actor: Actor, order_id: int, meter_id: bytes, kwh: str | None = None):
    """Takes an order at its terms as they are now: all of it, or ``kwh``."""
    token = _Token(actor, "Exchange")
    exchange = actor.contract("Exchange")
    terms = order(exchange, order_id)
    begin, open_wh, price = terms["interval_begin"], terms["wh"], terms["price"]
    is_bid, version = terms["is_bid"], terms["version"]
    if not terms["open"]:
        raise ValueError(f"order {order_id} is not open: nothing sent")
    wh = open_wh if kwh is None else _wh(kwh)
    if wh > open_wh:
        raise ValueError(
            f"order {order_id} has {format_units(open_wh, 3)} kWh open, less than {kwh}: "
            "nothing sent"
        )
    approval = []
    if not is_bid:
        approval = _pay_in(actor, token, exchange.address, wh * price, "this needs in escrow")
    receipt = actor.send_all(
        [*approval, exchange.functions.take(order_id, wh, price, version, meter_id)]
    )
    logger.info(
        "%s %s kWh for the interval from %s at %s/kWh (order %d)",
        "sold" if is_bid else "bought",
        format_units(wh, 3),
        _when(begin),
        token.show(price * 1_000),
        order_id,
    )
    return receipt


def cancel_order(actor: Actor, order_id: int):
    exchange = actor.contract("Exchange")
    if not order(exchange, order_id)["open"]:
        raise ValueError(f"order {order_id} is not open: nothing sent")
    receipt = actor.send(exchange.functions.cancel(order_id))
    logger.info("cancelled order %d", order_id)
    return receipt


def amend_order(actor: Actor, order_id: int, kwh: str, price: str):
    """Changes one's open order to ``kwh`` at ``price`` tokens per kWh; a bid's
    escrow follows (approved first if it grows beyond the allowance)."""
    token = _Token(actor, "Exchange")
    exchange = actor.contract("Exchange")
    terms = order(exchange, order_id)
    open_wh, old_price, is_bid = terms["wh"], terms["price"], terms["is_bid"]
    if not terms["open"]:
        raise ValueError(f"order {order_id} is not open: nothing sent")
    wh, per_wh = _wh(kwh), _price_per_wh(token, price)
    approval = []
    if is_bid and wh * per_wh > open_wh * old_price:
        more = wh * per_wh - open_wh * old_price
        approval = _pay_in(actor, token, exchange.address, more, "more escrow")
    receipt = actor.send_all([*approval, exchange.functions.amend(order_id, wh, per_wh)])
    logger.info("order %d is now %s kWh at %s/kWh", order_id, kwh, token.show(per_wh * 1_000))
    return receipt


def claim_certificates(actor: Actor, certificate: int, recipient: str | None = None):
    """Collects the certificates the Exchange holds for the actor."""
    exchange = actor.contract("Exchange")
    held = exchange.functions.held_certificates(actor.account.address, certificate).call()
    if held == 0:
        raise ValueError(
            f"the Exchange holds none of certificate {certificate} for you: nothing sent"
        )
    receipt = actor.send(
        exchange.functions.claim_certificates(certificate, recipient or actor.account.address)
    )
    logger.info("claimed %s Wh of certificate %d", f"{held:,}", certificate)
    return receipt


def transfer_tokens(actor: Actor, to: str, amount: str):
    """Sends ``amount`` Wallet tokens to ``to``."""
    token = _Token(actor)
    units = token.units(amount)
    held = token.contract.functions.balanceOf(actor.account.address).call()
    if held < units:
        raise ValueError(f"the account holds {token.show(held)}: nothing sent")
    receipt = actor.send(token.contract.functions.transfer(to, units))
    logger.info("sent %s to %s", token.show(units), to)
    return receipt


def claim_arrears(actor: Actor):
    """Moves rewards the treasury could not pay yet into the actor's ledger."""
    token = _Token(actor, "OperatorBackend")
    ob = actor.contract("OperatorBackend")
    owed = ob.functions.arrears_of(actor.account.address).call()
    if owed == 0:
        raise ValueError("the operator owes you no arrears: nothing sent")
    receipt = actor.send(ob.functions.claim_arrears())
    left = ob.functions.arrears_of(actor.account.address).call()
    logger.info("claimed %s of arrears; %s still owed", token.show(owed - left), token.show(left))
    return receipt


def _held_wh(actor: Actor, certificate: int) -> int:
    registry = actor.contract("GGORegistry")
    return registry.functions.balanceOf(actor.account.address, certificate).call()


def transfer_certificate(actor: Actor, certificate: int, to: str, kwh: str):
    """Moves ``kwh`` of one's certificate to ``to``."""
    registry = actor.contract("GGORegistry")
    wh, held = _wh(kwh), _held_wh(actor, certificate)
    if wh > held:
        raise ValueError(f"you hold {held:,} Wh of certificate {certificate}: nothing sent")
    receipt = actor.send(
        registry.functions.safeTransferFrom(actor.account.address, to, certificate, wh, b"")
    )
    logger.info("moved %s Wh of certificate %d to %s", f"{wh:,}", certificate, to)
    return receipt


def retire_certificate(actor: Actor, certificate: int, kwh: str, meter_id: bytes, note: str):
    """Retires ``kwh`` of one's certificate against the consumption of one's
    meter in the certificate's interval."""
    registry = actor.contract("GGORegistry")
    wh, held = _wh(kwh), _held_wh(actor, certificate)
    if wh > held:
        raise ValueError(f"you hold {held:,} Wh of certificate {certificate}: nothing sent")
    receipt = actor.send(registry.functions.retire(certificate, wh, meter_id, note.encode()))
    logger.info("retired %s Wh of certificate %d", f"{wh:,}", certificate)
    return receipt


def approve_claimer(actor: Actor, operator: str, approved: bool = True):
    """Lets ``operator`` move and retire the actor's certificates and claim
    against its consumption meters (or, not ``approved``, no longer)."""
    registry = actor.contract("GGORegistry")
    return actor.send(registry.functions.setApprovalForAll(operator, approved))


# KEEPER (anyone)

MAX_BATCH = 96  # intervals per settle_many / issue_many, as the contracts bound them


def _measured_begins(actor: Actor, meter_id: bytes, start: int, end: int, whole: bool) -> list:
    """Begins of the meter's measurements that begin in ``[start, end)``; with
    ``whole``, only those exactly one interval long (the certifiable ones)."""
    smb = actor.contract("SmartMeterBackend")
    length = smb.functions.interval_length().call()
    begins = []
    for begin in range(start - start % length, end, length):
        measured_end, produced, _ = smb.functions.measurement(meter_id, begin).call()
        if measured_end and (not whole or (measured_end == begin + length and produced)):
            begins.append(begin)
    return begins


def _when(unix: int) -> str:
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%d %H:%M UTC")


def settle_intervals(actor: Actor, meter_id: bytes, start: int, end: int):
    """Settles with the operator every measurement of the meter that begins in
    ``[start, end)`` and is not settled yet, in batches."""
    smb, ob = actor.contract("SmartMeterBackend"), actor.contract("OperatorBackend")
    begins = [
        b
        for b in _measured_begins(actor, meter_id, start, end, whole=False)
        if not ob.functions.is_settled(smb.address, meter_id, b).call()
    ]
    if not begins:
        raise ValueError(
            f"no unsettled measurement of the meter begins between {_when(start)} and "
            f"{_when(end)}: nothing sent"
        )
    receipts = [
        actor.send(
            ob.functions.settle_many(
                smb.address, [(meter_id, b) for b in begins[i : i + MAX_BATCH]]
            )
        )
        for i in range(0, len(begins), MAX_BATCH)
    ]
    done = sum(
        len(ob.events.IntervalSettled().process_receipt(receipt, errors=DISCARD))
        for receipt in receipts
    )
    logger.info(
        "settled %d measurements, %s to %s%s",
        done,
        _when(begins[0]),
        _when(begins[-1]),
        f"; {len(begins) - done} wait for their deals to settle" if done < len(begins) else "",
    )
    return receipts


def issue_certificates(actor: Actor, meter_id: bytes, start: int, end: int):
    """Issues the certificates of the meter's hourly production in ``[start, end)``
    not issued yet, in batches."""
    registry = actor.contract("GGORegistry")
    begins = [
        b
        for b in _measured_begins(actor, meter_id, start, end, whole=True)
        if not registry.functions.is_active(
            registry.functions.certificate_id(meter_id, b).call()
        ).call()
    ]
    if not begins:
        raise ValueError(
            f"no certifiable production of the meter between {_when(start)} and {_when(end)} "
            "waits for its certificate: nothing sent"
        )
    receipts = []
    for i in range(0, len(begins), MAX_BATCH):
        batch = begins[i : i + MAX_BATCH]
        receipts.append(actor.send(registry.functions.issue_many([meter_id] * len(batch), batch)))
    logger.info(
        "issued the certificates of %d hours, %s to %s",
        len(begins),
        _when(begins[0]),
        _when(begins[-1]),
    )
    # Each hour's id, which `prosumer retire` and `transfer-certificate` take.
    for begin in begins:
        certificate = registry.functions.certificate_id(meter_id, begin).call()
        issued = registry.functions.certificate(certificate).call()[6]  # issued_wh
        logger.info("  %s: certificate %d, %s Wh", _when(begin), certificate, f"{issued:,}")
    return receipts


def settle_deals(actor: Actor, from_block: int, to_block: int | str = "latest"):
    """Settles every deal made in the blocks given whose interval is measured or
    past the settlement timeout, and not settled yet, in batches."""
    exchange, smb = actor.contract("Exchange"), actor.contract("SmartMeterBackend")
    length = smb.functions.interval_length().call()
    timeout = exchange.functions.settlement_timeout().call()
    now = actor.w3.eth.get_block("latest")["timestamp"]
    ready, waiting = [], 0
    for event in exchange.events.DealMade().get_logs(from_block=from_block, to_block=to_block):
        deal_id, terms = settlement(event, exchange.abi)
        if exchange.functions.is_settled(deal_id).call():
            continue
        seller_meter, begin = event["args"]["seller_meter"], event["args"]["interval_begin"]
        measured = smb.functions.measurement(seller_meter, begin).call()[0] == begin + length
        if measured or now >= begin + length + timeout:
            ready.append((deal_id, terms))
        else:
            waiting += 1
    if not ready:
        raise ValueError(
            f"no deal ready to settle ({waiting} wait for their measurement): nothing sent"
        )
    receipts = [
        actor.send(exchange.functions.settle_many(ready[i : i + 64]))
        for i in range(0, len(ready), 64)
    ]
    logger.info("settled %d deals; %d wait for their measurement", len(ready), waiting)
    return receipts


def keeper_run(actor: Actor, start: int, end: int, hub: str | None = None):
    """What a keeper does for every meter of the deployment over ``[start, end)``,
    in the order that lets each step go through: with ``hub`` (a data hub's URL),
    reveal the traded hours of root-published meters from its public proofs
    (``reveal-traded``) first; issue the certificates of the
    hourly production (so that settled deals hand them on), clear and deliver
    the Auction's intervals past gate closure, settle the deals
    whose interval is measured or past the timeout, then settle the measured
    intervals with the operator. Idempotent: what is done already is skipped.
    A line of progress per meter goes to the log."""
    smb = actor.contract("SmartMeterBackend")
    first = actor.deployment["SmartMeterBackend"].block
    meters = list(
        dict.fromkeys(
            event["args"]["meter_id"]
            for event in smb.events.MeterRegistered().get_logs(from_block=first)
        )
    )
    receipts = []

    def step(work, *args) -> int:
        try:
            done = work(actor, *args)
        except ValueError:  # nothing to do, or not yet
            return 0
        receipts.extend(done)
        return len(done)

    if hub:
        from openkwh.commands.roots import reveal_traded

        step(reveal_traded, hub, start, end)
    for number, meter_id in enumerate(meters, 1):
        if MeterKind.PRODUCTION in MeterKind(smb.functions.trading_data(meter_id).call()[1]):
            step(issue_certificates, meter_id, start, end)
        logger.info(
            "meter %d of %d (0x%s…): certificates issued", number, len(meters), meter_id.hex()[:8]
        )
    if "Auction" in actor.deployment:  # the auction's deals first, to be settled below
        step(clear_auctions)
    exchange_block = actor.deployment["Exchange"].block or first
    step(settle_deals, exchange_block)
    for number, meter_id in enumerate(meters, 1):
        step(settle_intervals, meter_id, start, end)
        logger.info(
            "meter %d of %d (0x%s…): intervals settled", number, len(meters), meter_id.hex()[:8]
        )
    if not receipts:
        count = f"{len(meters)} meter{'s' if len(meters) != 1 else ''}"
        raise ValueError(f"nothing to do in that period ({count}): nothing sent")
    return receipts


# AUCTION (issue 19): standing orders, the hourly call auction and its delivery


def _intervals(count: int) -> str:
    return f"{count} interval{'' if count == 1 else 's'}"


def _standing_placed(actor: Actor, maker: str | None = None) -> list:
    """The Auction's StandingOrderPlaced events, in placement order (their ids
    rise), of ``maker`` or everyone's."""
    auction = actor.contract("Auction")
    first = actor.deployment["Auction"].block
    placed = auction.events.StandingOrderPlaced().get_logs(from_block=first)
    return [e for e in placed if maker is None or e["args"]["maker"] == maker]


def _grid(actor: Actor, start: int, end: int) -> tuple[int, int]:
    """(first, last) interval begins of ``[start, end)``, both on the interval grid."""
    length = actor.contract("SmartMeterBackend").functions.interval_length().call()
    if start % length or end % length:
        raise ValueError(f"--from and --to must be on the {length} s interval grid: nothing sent")
    if end <= start:
        raise ValueError("--to must come after --from: nothing sent")
    return start, end - length


def forecast_runs(path: Path, length: int, start: int, end: int) -> list[tuple[int, int, int]]:
    """A forecast file read into standing orders: lines ``interval,wh`` (the
    interval an ISO 8601 time or unix seconds, whole Wh), blank lines and ``#``
    comments skipped. Hours of ``[start, end)`` it names with Wh above zero, as
    (first, last, wh) runs of consecutive hours with the same Wh: one standing
    order each, so "up to my forecast" is fixed at placement."""
    wanted: dict[int, int] = {}
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            when, wh = (part.strip() for part in line.split(","))
            begin, amount = _time(when), int(wh)
        except (ValueError, argparse.ArgumentTypeError):
            raise ValueError(
                f"{path}, line {number}: expected 'interval,wh', got {line!r}"
            ) from None
        if begin % length or amount < 0:
            raise ValueError(f"{path}, line {number}: not an interval begin and whole Wh: {line!r}")
        wanted[begin] = amount
    runs: list[tuple[int, int, int]] = []
    for begin in range(start, end, length):
        wh = wanted.get(begin, 0)
        if wh and runs and runs[-1][1] == begin - length and runs[-1][2] == wh:
            runs[-1] = (runs[-1][0], begin, wh)
        elif wh:
            runs.append((begin, begin, wh))
    return runs


def split_runs(
    runs: list[tuple[int, int, int]], length: int, most: int
) -> list[tuple[int, int, int]]:
    """(first, last, wh) runs cut into pieces of at most ``most`` intervals: the
    Auction refuses an order longer than its MAX_INTERVALS (four weeks of
    hours), so a month takes two orders."""
    pieces: list[tuple[int, int, int]] = []
    for first, last, wh in runs:
        for begin in range(first, last + 1, most * length):
            pieces.append((begin, min(last, begin + (most - 1) * length), wh))
    return pieces


def forecast_from_chain(actor: Actor, meter_id: bytes, side: str) -> forecasting.Forecast:
    """The meter's forecast (openkwh.forecast, 14 days of history) from its
    measurements on chain (MeasurementRecorded), as the dApp's index holds them."""
    smb = actor.contract("SmartMeterBackend")
    recorded = smb.events.MeasurementRecorded().get_logs(
        from_block=actor.deployment["SmartMeterBackend"].block,
        argument_filters={"meter_id": meter_id},
    )
    measured = {
        e["args"]["interval_begin"]: (e["args"]["produced_wh"], e["args"]["consumed_wh"])
        for e in recorded
    }
    return forecasting.forecast(
        ((begin, produced, consumed) for begin, (produced, consumed) in measured.items()),
        side,
        actor.w3.eth.get_block("latest")["timestamp"],
        smb.functions.interval_length().call(),
    )


def place_standing_order(
    actor: Actor,
    side: str,
    meter_id: bytes,
    start: int,
    end: int,
    price: str,
    wh: int | None = None,
    forecast: Path | None = None,
    from_history: bool = False,
):
    """A standing offer or bid on the Auction for every interval of ``[start,
    end)``: ``wh`` Wh an interval, or up to the ``forecast`` (one order per run
    of hours with the same Wh), or up to the meter's forecast from its own
    measurements (``from_history``), at a limit of ``price`` tokens per kWh; a
    period longer than the Auction's MAX_INTERVALS takes one order per
    MAX_INTERVALS. A bid escrows Wh x price for every interval now (approved
    first if short)."""
    token = _Token(actor, "Auction")
    auction = actor.contract("Auction")
    per_wh = _price_per_wh(token, price)
    first, last = _grid(actor, start, end)
    length = actor.contract("SmartMeterBackend").functions.interval_length().call()
    if forecast is not None:
        runs = forecast_runs(forecast, length, first, last + length)
        if not runs:
            raise ValueError("the forecast names no Wh in that period: nothing sent")
    elif from_history:
        fc = forecast_from_chain(actor, meter_id, side)
        runs = forecasting.standing_orders(fc, first, last)
        logger.info(
            "forecast from the meter's measurements of %s to %s, Wh per interval of the UTC "
            "day from 00:00: %s",
            _when(fc.since),
            _when(fc.until),
            " ".join(str(wh) for wh in fc.profile),
        )
    elif wh:
        runs = [(first, last, wh)]
    elif wh == 0:
        raise ValueError("an order is of 1 Wh an interval at least (--kwh 0,001): nothing sent")
    else:
        raise ValueError("give the Wh per interval (--wh) or a --forecast: nothing sent")
    runs = split_runs(runs, length, auction.functions.MAX_INTERVALS().call())
    is_bid = side == "bid"
    receipts = []
    for run_first, run_last, run_wh in runs:
        call = auction.functions.place(meter_id, run_first, run_last, run_wh, per_wh, is_bid)
        hours = (run_last - run_first) // length + 1
        if is_bid:
            escrow = hours * run_wh * per_wh
            approval = _pay_in(actor, token, auction.address, escrow, "this needs in escrow")
            receipt = actor.send_all([*approval, call])
        else:
            receipt = actor.send(call)
        (event,) = auction.events.StandingOrderPlaced().process_receipt(receipt, errors=DISCARD)
        logger.info(
            "standing %s %d: %d Wh an interval from %s to %s (%s) at %s/kWh%s",
            side,
            event["args"]["order_id"],
            run_wh,
            _when(run_first),
            _when(run_last + length),
            _intervals(hours),
            token.show(per_wh * 1_000),
            f", {token.show(hours * run_wh * per_wh)} in escrow" if is_bid else "",
        )
        receipts.append(receipt)
    return receipts


def standing_orders(actor: Actor) -> Report:
    """The actor's standing orders on the Auction, with each interval's fill once
    cleared (Wh, at the clearing price) and whether it was delivered."""
    auction = actor.contract("Auction")
    token = _Token(actor, "Auction")
    length = actor.contract("SmartMeterBackend").functions.interval_length().call()
    found = []
    for event in _standing_placed(actor, actor.account.address):
        order_id = event["args"]["order_id"]
        _maker, meter_id, first, last, wh, price, is_bid, released = auction.functions.order(
            order_id
        ).call()
        hours = []
        for begin in range(first, last + 1, length):
            cleared, clearing_price = auction.functions.clearing(begin).call()[:2]
            hours.append(
                {
                    "interval_begin": begin,
                    "cleared": cleared,
                    "fill_wh": auction.functions.fill(order_id, begin).call(),
                    "price": clearing_price if cleared else None,
                    "delivered": auction.functions.delivered(begin).call(),
                }
            )
        side = "bid" if is_bid else "offer"
        logger.info(
            "standing %s %d: %d Wh an interval at %s/kWh, %s",
            side,
            order_id,
            wh,
            token.show(price * 1_000),
            (
                f"{_intervals(len(hours))} from {_when(first)}"
                + (
                    f", cancelled from {_when(last + length)}"
                    if last < event["args"]["last"]
                    else ""
                )
            )
            if hours
            else "cancelled",
        )
        for hour in hours:
            if hour["cleared"]:
                logger.info(
                    "  %s: filled %d Wh at %s/kWh%s",
                    _when(hour["interval_begin"]),
                    hour["fill_wh"],
                    token.show(hour["price"] * 1_000),
                    ", delivered" if hour["delivered"] else "",
                )
            else:
                logger.info("  %s: not cleared yet", _when(hour["interval_begin"]))
        found.append(
            {
                "order_id": order_id,
                "side": side,
                "meter_id": "0x" + meter_id.hex(),
                "wh": wh,
                "price": price,
                "released": released,
                "intervals": hours,
            }
        )
    if not found:
        logger.info("no standing orders of %s", actor.account.address)
    return Report(orders=found)


def cancel_standing_order(actor: Actor, order_id: int, start: int):
    """Cancels one's standing order from the interval beginning at ``start`` on
    (a bid's escrow for those intervals comes back)."""
    auction = actor.contract("Auction")
    token = _Token(actor, "Auction")
    terms = auction.functions.order(order_id).call()
    first, last = terms[2], terms[3]
    if not first <= start <= last:
        raise ValueError(f"order {order_id} has no open interval from {_when(start)}: nothing sent")
    receipt = actor.send(auction.functions.cancel(order_id, start))
    (event,) = auction.events.StandingOrderCancelled().process_receipt(receipt, errors=DISCARD)
    logger.info(
        "cancelled standing order %d from %s; %s back",
        order_id,
        _when(start),
        token.show(event["args"]["refund"]),
    )
    return receipt


def release_standing_bid(actor: Actor, order_id: int, intervals: int | None = None):
    """Settles a standing bid's escrow for its cleared intervals (all of them,
    or ``intervals``): what it did not fill, and its limit's excess over the
    clearing price, become Auction credit."""
    auction = actor.contract("Auction")
    terms = auction.functions.order(order_id).call()
    first, last, is_bid, released = terms[2], terms[3], terms[6], terms[7]
    if not is_bid:
        raise ValueError(f"order {order_id} is an offer: it has no escrow; nothing sent")
    length = actor.contract("SmartMeterBackend").functions.interval_length().call()
    ready = 0
    for begin in range(first + released * length, last + 1, length):
        if not auction.functions.clearing(begin).call()[0]:
            break
        ready += 1
    count = ready if intervals is None else min(intervals, ready)
    if count == 0:
        raise ValueError(f"order {order_id} has no cleared interval left to release: nothing sent")
    receipt = actor.send(auction.functions.release(order_id, count))
    logger.info("released %s of standing bid %d", _intervals(count), order_id)
    return receipt


def withdraw_auction_credit(actor: Actor):
    """Collects the actor's credit on the Auction: escrow released and fills paid back."""
    return _withdraw_credit(actor, "Auction")


def auction_books(actor: Actor) -> dict[int, list[int]]:
    """Every interval with standing orders, and its book: the ids of the orders
    placed in it, in placement order (what the accumulator chains)."""
    length = actor.contract("SmartMeterBackend").functions.interval_length().call()
    books: dict[int, list[int]] = {}
    for event in _standing_placed(actor):
        args = event["args"]
        for begin in range(args["first"], args["last"] + 1, length):
            books.setdefault(begin, []).append(args["order_id"])
    return dict(sorted(books.items()))


def clear_auctions(actor: Actor):
    """Clears every interval of the Auction past its gate closure and not cleared,
    at the price the plain Python auction (openkwh.auction) finds from the
    orders' terms and the operator's tariff, then delivers every cleared
    interval not yet delivered (deals on the Exchange before it begins; after,
    the fills' payments go back to the bidders), 64 deals a call."""
    auction = actor.contract("Auction")
    operator = actor.contract("OperatorBackend")
    token = _Token(actor, "Auction")
    lead = auction.functions.lead_time().call()
    now = actor.w3.eth.get_block("latest")["timestamp"]
    receipts, cleared, delivered = [], 0, 0
    for begin, ids in auction_books(actor).items():
        if now + lead < begin:
            continue  # the gate is still open: orders may come and go
        if not auction.functions.clearing(begin).call()[0]:
            retail, feed_in = operator.functions.tariff_at(begin).call()[:2]
            live = []
            for order_id in ids:
                terms = auction.functions.order(order_id).call()
                if terms[2] <= begin <= terms[3]:
                    live.append((terms[6], terms[4], terms[5]))
            book = auction_model.clear(live, retail, feed_in)
            receipts.append(actor.send(auction.functions.clear(begin, ids, book.price)))
            cleared += 1
            logger.info(
                "cleared %s: %d orders, %d Wh at %s/kWh",
                _when(begin),
                len(ids),
                book.volume,
                token.show(book.price * 1_000),
            )
        if auction.functions.delivered(begin).call():
            continue
        deals = 0
        while True:
            receipt = actor.send(auction.functions.deliver(begin, ids))
            receipts.append(receipt)
            deals += len(auction.events.DealDelivered().process_receipt(receipt, errors=DISCARD))
            if auction.functions.delivered(begin).call():
                break
        delivered += 1
        logger.info("delivered %s: %d deals on the Exchange", _when(begin), deals)
    if not receipts:
        raise ValueError("no auction interval to clear or deliver: nothing sent")
    logger.info("cleared %d auction intervals, delivered %d", cleared, delivered)
    return receipts


# OPERATOR


def withdraw_revenue(actor: Actor, amount: str, recipient: str | None = None):
    """Takes ``amount`` tokens of collected bills out of the treasury."""
    token = _Token(actor, "OperatorBackend")
    ob = actor.contract("OperatorBackend")
    units = token.units(amount)
    treasury = ob.functions.treasury().call()
    if treasury < units:
        raise ValueError(
            f"the treasury holds {token.show(treasury)}, less than {token.show(units)}: "
            "nothing sent"
        )
    receipt = actor.send(ob.functions.withdraw_revenue(units, recipient or actor.account.address))
    logger.info(
        "took %s out of the treasury; it holds %s", token.show(units), token.show(treasury - units)
    )
    return receipt


def expire_certificate(actor: Actor, certificate: int):
    """Logs a certificate's expiry once its validity has passed."""
    return actor.send(actor.contract("GGORegistry").functions.expire(certificate))


def net_span(actor: Actor, backend: str, meter_id: bytes, begin: int):
    """Nets a step of a long measurement (a meter that missed readings) against
    the Exchange, so that the operator can settle it."""
    ob = actor.contract("OperatorBackend")
    return actor.send(ob.functions.net_span(backend, meter_id, begin))


def wire(actor: Actor, what: str, address: str):
    """The admin's one-time wiring: the operator of the meter backend, or the
    Exchange of the operator or of the registry."""
    name, function = {
        "meters-operator": ("SmartMeterBackend", "wire_operator"),
        "operator-exchange": ("OperatorBackend", "wire_exchange"),
        "registry-exchange": ("GGORegistry", "wire_exchange"),
    }[what]
    return actor.send(getattr(actor.contract(name).functions, function)(address))


ROLE_CONTRACTS = ("SmartMeterBackend", "OperatorBackend", "GGORegistry", "EmissionsRegistry")


def revoke_role(actor: Actor, contract_name: str, role: str, account: str, renounce: bool = False):
    """Takes ``role`` (a role's name, e.g. OPERATOR_ROLE) of ``contract_name``
    from ``account`` (admin), or gives up one's own (``renounce``)."""
    target = actor.contract(contract_name)
    role_id = Web3.keccak(text=role) if role != "DEFAULT_ADMIN_ROLE" else b"\x00" * 32
    if renounce:
        return actor.send(target.functions.renounceRole(role_id, actor.account.address))
    return actor.send(target.functions.revokeRole(role_id, account))


def transfer_ownership(actor: Actor, new_owner: str):
    """Starts handing the Wallet (its sale) to ``new_owner``, who must accept."""
    return actor.send(actor.contract("Wallet").functions.transfer_ownership(new_owner))


def accept_ownership(actor: Actor):
    return actor.send(actor.contract("Wallet").functions.accept_ownership())


def recover_unsold_tokens(actor: Actor, recipient: str):
    """Takes the tokens the Wallet's ended sale did not sell."""
    return actor.send(actor.contract("Wallet").functions.recover_unsold_tokens(recipient))


def _tariff_price(actor: Actor, per_kwh: str) -> int:
    """Token base units per Wh of a tariff price in tokens per kWh (0 allowed)."""
    try:
        if Decimal(per_kwh.strip().replace(",", ".")) == 0:
            return 0
    except InvalidOperation:
        pass  # _price_per_wh says what is wrong with it
    return _price_per_wh(_Token(actor, "OperatorBackend"), per_kwh)


def announce_tariff(actor: Actor, retail_price: int, feed_in_reward: int, effective_from: int):
    ob = actor.contract("OperatorBackend")
    receipt = actor.send(ob.functions.announce_tariff(retail_price, feed_in_reward, effective_from))
    token = _Token(actor, "OperatorBackend")
    logger.info(
        "announced a retail price of %s/kWh and a feed-in reward of %s/kWh from %s",
        token.show(retail_price * 1_000),
        token.show(feed_in_reward * 1_000),
        _when(effective_from),
    )
    return receipt


def fund_treasury(actor: Actor, amount: int):
    """Funds the treasury with ``amount``, approving the OperatorBackend for it
    first if its allowance is short. Every reason the funding would revert is
    checked before the approval is sent, so no approval is left behind for a
    funding that fails."""
    ob = actor.contract("OperatorBackend")
    token = actor.contract("Wallet")
    owner = actor.account.address
    if amount <= 0:
        raise TransactionFailed("operator: amount is zero: nothing sent")
    balance = token.functions.balanceOf(owner).call()
    if balance < amount:
        shown = _Token(actor, "OperatorBackend")
        raise TransactionFailed(
            f"{owner} holds {shown.show(balance)}, less than the {shown.show(amount)} to fund: "
            "nothing sent"
        )
    approval = []
    if token.functions.allowance(owner, ob.address).call() < amount:
        approval = [token.functions.approve(ob.address, amount)]
    receipt = actor.send_all([*approval, ob.functions.fund_treasury(amount)])
    figures = _Token(actor, "OperatorBackend")
    logger.info(
        "funded the treasury with %s; it holds %s",
        figures.show(amount),
        figures.show(ob.functions.treasury().call()),
    )
    return receipt


def set_connection_rating(actor: Actor, meter_id: bytes, connection_w: int, reason: str):
    """Corrects a meter's connection rating (W), from its next reading on."""
    smb = actor.contract("SmartMeterBackend")
    return actor.send(smb.functions.set_connection_rating(meter_id, connection_w, reason))


def suspend_meter(actor: Actor, meter_id: bytes, reason: str):
    smb = actor.contract("SmartMeterBackend")
    return actor.send(smb.functions.suspend_meter(meter_id, reason))


def resume_meter(actor: Actor, meter_id: bytes, reason: str):
    smb = actor.contract("SmartMeterBackend")
    return actor.send(smb.functions.resume_meter(meter_id, reason))


def announce_backend_trust(actor: Actor, backend: str, trusted: bool):
    """Announces trusting ``backend`` (or no longer); refuses to trust one whose
    code or roots contract is not today's, since settlements would pay on
    whatever it records."""
    if trusted:
        problem = backend_problem(actor.w3, backend)
        if problem:
            raise ValueError(f"not trusted: {problem}")
    ob = actor.contract("OperatorBackend")
    return actor.send(ob.functions.announce_backend_trust(backend, trusted))


# COMMAND LINE


def _address(text: str) -> str:
    """An address in its EIP-55 checksummed form: a typo in one written in one
    case only would go unnoticed, so that is refused with the checksummed form."""
    if not Web3.is_address(text):
        raise argparse.ArgumentTypeError(
            f"not a checksummed address: {text!r} (40 hex digits after 0x, "
            "upper and lower case as EIP-55 has them)"
        )
    if not Web3.is_checksum_address(text):
        raise argparse.ArgumentTypeError(
            f"{text} has no checksum: if it is right, write it as {Web3.to_checksum_address(text)}"
        )
    return text


def _bytes32(text: str) -> bytes:
    raw = bytes.fromhex(text.removeprefix("0x"))
    if len(raw) != 32:
        raise argparse.ArgumentTypeError(f"expected 32 bytes of hex, got {len(raw)}")
    return raw


def _text(limit: int) -> Callable[[str], str]:
    """An argparse type for a contract's String[limit]: longer text is refused
    here with a message, not by the node with none."""

    def check(text: str) -> str:
        if len(text.encode()) > limit:
            raise argparse.ArgumentTypeError(
                f"at most {limit} bytes, this is {len(text.encode())}: {text[:20]!r}…"
            )
        return text

    return check


SECTOR, CODE, REASON = _text(16), _text(16), _text(128)  # the contracts' String[...]
CLAIM_NOTE = _text(256)  # GGORegistry.MAX_CLAIM_DATA, bytes


def _natural(text: str) -> int:
    value = int(text.replace("_", ""))
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {text}")
    return value


def _time(text: str) -> int:
    """Unix seconds, or an ISO 8601 date or time (UTC unless it names a zone)."""
    if text.isdigit():
        return int(text)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a time: {text!r} (e.g. 2026-06-20, 2026-06-20T06:00Z or unix seconds)"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp())


def _add_period_arguments(parser: argparse.ArgumentParser) -> None:
    _add_meter_arguments(parser)
    _add_period_options(parser)


def _add_period_options(parser: argparse.ArgumentParser) -> None:
    when = "an ISO 8601 date or time (UTC unless it names a zone) or unix seconds"
    parser.add_argument(
        "--from", dest="start", type=_time, required=True, help=f"the period's begin: {when}"
    )
    parser.add_argument(
        "--to", dest="end", type=_time, required=True, help=f"the period's end (excluded): {when}"
    )


def _add_order_arguments(parser: argparse.ArgumentParser, bid: bool) -> None:
    _add_meter_arguments(parser)
    parser.add_argument(
        "--interval",
        type=_time,
        required=True,
        help="the interval's begin: an ISO 8601 time (UTC unless zoned) or unix seconds",
    )
    parser.add_argument("--kwh", required=True, help='energy, e.g. "1.5"')
    parser.add_argument(
        "--price",
        required=True,
        help='tokens per kWh, e.g. "0.25"' + (" (your limit)" if bid else ""),
    )
    if bid:
        parser.add_argument(
            "--retire",
            action="store_true",
            help="retire the certificates on delivery against the meter's consumption",
        )


MAX_PERIOD = 366 * 86_400  # seconds a keeper command covers at most


def _period(args: argparse.Namespace) -> tuple[int, int]:
    if args.end <= args.start:
        raise ValueError("--to must come after --from: nothing sent")
    if args.end - args.start > MAX_PERIOD:
        raise ValueError("the period is longer than a year: split it; nothing sent")
    return args.start, args.end


def _meter_id(args: argparse.Namespace) -> bytes:
    if args.meter_id:
        return args.meter_id
    return meter_id_from_gsrn(args.gsrn, read_salt(args.salt_file))


def _add_meter_arguments(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--meter-id", type=_bytes32, help="the on-chain meter id (32 bytes hex)")
    which.add_argument("--gsrn", help="the meter's 18-digit GSRN/EAN; hashed with --salt-file")
    parser.add_argument(
        "--salt-file", type=Path, help="file with the salt for --gsrn (>= 16 bytes, read exactly)"
    )


def _add_standing_arguments(parser: argparse.ArgumentParser, bid: bool) -> None:
    _add_meter_arguments(parser)
    _add_period_options(parser)
    amount = parser.add_mutually_exclusive_group(required=True)
    amount.add_argument("--kwh", help='kWh in every interval, e.g. "1,5" (exact to the Wh)')
    amount.add_argument("--wh", type=_natural, help="whole Wh in every interval, e.g. 1500")
    amount.add_argument(
        "--forecast",
        type=Path,
        help="up to a forecast: a file of 'interval,wh' lines (one order per run of equal Wh)",
    )
    amount.add_argument(
        "--up-to-forecast",
        action="store_true",
        help="up to the meter's forecast from its own measurements: each hour of the day's "
        "median over the last 14 days (one order per run of equal Wh)",
    )
    parser.add_argument(
        "--price",
        required=True,
        help='tokens per kWh, e.g. "0.25"' + (" (your limit)" if bid else " (your floor)"),
    )


def _standing_command(side: str) -> Callable:
    return lambda a, args: place_standing_order(
        a,
        side,
        _meter_id(args),
        args.start,
        args.end,
        args.price,
        _wh(args.kwh) if args.kwh is not None else args.wh,
        args.forecast,
        args.up_to_forecast,
    )


# role => {sub-command: (help, add arguments, run(actor, args))}
COMMANDS: dict[str, dict[str, tuple[str, Callable, Callable]]] = {
    "admin": {
        "wire": (
            "wire contracts to each other, once (make deploy does it)",
            lambda p: (
                p.add_argument(
                    "--what",
                    choices=("meters-operator", "operator-exchange", "registry-exchange"),
                    required=True,
                ),
                p.add_argument("--address", type=_address, required=True, help="the one wired in"),
            ),
            lambda a, args: wire(a, args.what, args.address),
        ),
        "revoke-role": (
            "take a role (e.g. OPERATOR_ROLE) of a contract from an account",
            lambda p: (
                p.add_argument("--contract", choices=ROLE_CONTRACTS, required=True),
                p.add_argument("--role", required=True, help="e.g. OPERATOR_ROLE"),
                p.add_argument("--account-address", type=_address, required=True),
            ),
            lambda a, args: revoke_role(a, args.contract, args.role, args.account_address),
        ),
        "renounce-role": (
            "give up a role of a contract that your account holds",
            lambda p: (
                p.add_argument("--contract", choices=ROLE_CONTRACTS, required=True),
                p.add_argument("--role", required=True, help="e.g. OPERATOR_ROLE"),
            ),
            lambda a, args: revoke_role(a, args.contract, args.role, "", renounce=True),
        ),
        "transfer-ownership": (
            "start handing the Wallet (its token sale) to a new owner, who must accept",
            lambda p: p.add_argument("--new-owner", type=_address, required=True),
            lambda a, args: transfer_ownership(a, args.new_owner),
        ),
        "accept-ownership": (
            "accept the Wallet's ownership offered to you",
            lambda p: None,
            lambda a, args: accept_ownership(a),
        ),
        "recover-unsold-tokens": (
            "take the tokens the ended sale did not sell",
            lambda p: p.add_argument("--recipient", type=_address, required=True),
            lambda a, args: recover_unsold_tokens(a, args.recipient),
        ),
        "set-issuing-body": (
            "appoint (or with --remove, remove) the issuing body of a sector",
            lambda p: (
                p.add_argument(
                    "--sector", type=SECTOR, required=True, help='bidding zone, e.g. "DK1"'
                ),
                p.add_argument("--body", type=_address, required=True, help="issuing body address"),
                p.add_argument("--remove", action="store_true", help="remove instead of appoint"),
            ),
            lambda a, args: set_issuing_body(a, args.sector, args.body, not args.remove),
        ),
        "grant-operator": (
            "make an account operator of the meter and operator backends",
            lambda p: p.add_argument("--account-address", type=_address, required=True),
            lambda a, args: grant_operator(a, args.account_address),
        ),
    },
    "operator": {
        "withdraw-revenue": (
            "take collected bills out of the treasury",
            lambda p: (
                p.add_argument("--amount", required=True, help='tokens, e.g. "100"'),
                p.add_argument("--recipient", type=_address, help="default: your account"),
            ),
            lambda a, args: withdraw_revenue(a, args.amount, args.recipient),
        ),
        "announce-tariff": (
            "announce a tariff, at least the notice period ahead",
            lambda p: (
                p.add_argument(
                    "--retail", required=True, help='retail price, tokens per kWh, e.g. "0.30"'
                ),
                p.add_argument(
                    "--feed-in",
                    required=True,
                    help='feed-in reward, tokens per kWh, e.g. "0.08" (or 0)',
                ),
                p.add_argument(
                    "--effective-from",
                    type=_time,
                    required=True,
                    help="when it takes effect, on the hour: an ISO 8601 time "
                    "(UTC unless zoned) or unix seconds",
                ),
            ),
            lambda a, args: announce_tariff(
                a,
                _tariff_price(a, args.retail),
                _tariff_price(a, args.feed_in),
                args.effective_from,
            ),
        ),
        "fund-treasury": (
            "approve and move tokens into the reward treasury",
            lambda p: p.add_argument("--amount", required=True, help='tokens, e.g. "1000"'),
            lambda a, args: fund_treasury(a, _Token(a, "OperatorBackend").units(args.amount)),
        ),
        "suspend-meter": (
            "stop accepting a meter's readings (tamper alarm)",
            lambda p: (
                _add_meter_arguments(p),
                p.add_argument("--reason", type=REASON, required=True),
            ),
            lambda a, args: suspend_meter(a, _meter_id(args), args.reason),
        ),
        "resume-meter": (
            "accept a suspended meter's readings again",
            lambda p: (
                _add_meter_arguments(p),
                p.add_argument("--reason", type=REASON, required=True),
            ),
            lambda a, args: resume_meter(a, _meter_id(args), args.reason),
        ),
        "set-connection-rating": (
            "correct a meter's connection rating (a fuse changed, a wrong registration)",
            lambda p: (
                _add_meter_arguments(p),
                p.add_argument("--connection-w", type=_natural, required=True, help="W"),
                p.add_argument("--reason", type=REASON, required=True, help="logged with it"),
            ),
            lambda a, args: set_connection_rating(
                a, _meter_id(args), args.connection_w, args.reason
            ),
        ),
        "trust-backend": (
            "announce trusting a SmartMeterBackend, effective after the notice period; "
            "refused unless it runs today's code and its roots are its own MeasurementRoots",
            lambda p: p.add_argument("--backend", type=_address, required=True),
            lambda a, args: announce_backend_trust(a, args.backend, True),
        ),
        "untrust-backend": (
            "announce no longer trusting a SmartMeterBackend, effective after the notice period",
            lambda p: p.add_argument("--backend", type=_address, required=True),
            lambda a, args: announce_backend_trust(a, args.backend, False),
        ),
    },
    "issuing_body": {
        "certify-installer": (
            "certify an installer for your sector",
            lambda p: (
                p.add_argument("--sector", type=SECTOR, required=True),
                p.add_argument("--installer", type=_address, required=True),
            ),
            lambda a, args: certify_installer(a, args.sector, args.installer),
        ),
        "withdraw-certification": (
            "withdraw an installer's certification",
            lambda p: (
                p.add_argument("--sector", type=SECTOR, required=True),
                p.add_argument("--installer", type=_address, required=True),
            ),
            lambda a, args: withdraw_certification(a, args.sector, args.installer),
        ),
        "revoke-certificate": (
            "revoke the certificate of a meter's production in an interval of your sector, "
            "and void its retirements (Scope 2 statements then count them as unmatched)",
            lambda p: (
                _add_meter_arguments(p),
                p.add_argument(
                    "--interval",
                    type=_time,
                    required=True,
                    help="the interval's begin: an ISO 8601 time (UTC unless zoned) or unix seconds",
                ),
                p.add_argument("--reason", type=REASON, required=True, help="logged with it"),
            ),
            lambda a, args: revoke_certificate(a, _meter_id(args), args.interval, args.reason),
        ),
    },
    "prosumer": {
        "accept-meter": (
            "take a meter offered to you (by its installer at registration, or its owner), "
            "and its debt at the operator, if any",
            lambda p: (
                _add_meter_arguments(p),
                p.add_argument(
                    "--max-debt",
                    type=_natural,
                    default=0,
                    help="the most debt (token base units) you take on with the meter; "
                    "default 0: refuse a meter with debt",
                ),
            ),
            lambda a, args: accept_meter(a, _meter_id(args), args.max_debt),
        ),
        "buy-tokens": (
            "buy tokens from the Wallet's sale while it runs",
            lambda p: p.add_argument("--ether", required=True, help='ether to pay, e.g. "0.5"'),
            lambda a, args: buy_tokens(a, args.ether),
        ),
        "deposit": (
            "prepay your operator ledger (approves the operator first if needed)",
            lambda p: p.add_argument("--amount", required=True, help='tokens, e.g. "12.5"'),
            lambda a, args: deposit(a, args.amount),
        ),
        "withdraw": (
            "pay tokens out of your operator ledger",
            lambda p: p.add_argument("--amount", required=True, help='tokens, e.g. "12.5"'),
            lambda a, args: withdraw(a, args.amount),
        ),
        "pay-meter-debt": (
            "pay a meter's debt at the operator from your ledger",
            lambda p: (
                _add_meter_arguments(p),
                p.add_argument("--amount", help="tokens; default: as much as your ledger holds"),
            ),
            lambda a, args: pay_meter_debt(a, _meter_id(args), args.amount),
        ),
        "transfer": (
            "send Wallet tokens to an account",
            lambda p: (
                p.add_argument("--to", type=_address, required=True),
                p.add_argument("--amount", required=True, help='tokens, e.g. "12.5"'),
            ),
            lambda a, args: transfer_tokens(a, args.to, args.amount),
        ),
        "claim-arrears": (
            "move rewards the operator's treasury could not pay yet into your ledger",
            lambda p: None,
            lambda a, args: claim_arrears(a),
        ),
        "transfer-certificate": (
            "move energy of your certificate to another account",
            lambda p: (
                p.add_argument("--certificate", type=_natural, required=True, help="its id"),
                p.add_argument("--to", type=_address, required=True),
                p.add_argument("--kwh", required=True, help='energy, e.g. "0.5"'),
            ),
            lambda a, args: transfer_certificate(a, args.certificate, args.to, args.kwh),
        ),
        "retire": (
            "retire (claim) your certificate against your meter's consumption of its hour",
            lambda p: (
                _add_meter_arguments(p),
                p.add_argument("--certificate", type=_natural, required=True, help="its id"),
                p.add_argument("--kwh", required=True, help='energy, e.g. "0.5"'),
                p.add_argument("--note", type=CLAIM_NOTE, default="", help="claim data, logged"),
            ),
            lambda a, args: retire_certificate(
                a, args.certificate, args.kwh, _meter_id(args), args.note
            ),
        ),
        "approve-claimer": (
            "let an account move and retire your certificates and claim for your meters "
            "(--revoke to stop)",
            lambda p: (
                p.add_argument("--claimer", type=_address, required=True),
                p.add_argument("--revoke", action="store_true", help="stop instead"),
            ),
            lambda a, args: approve_claimer(a, args.claimer, not args.revoke),
        ),
        "offer-meter": (
            "offer your meter to a new owner, who must accept it",
            lambda p: (
                _add_meter_arguments(p),
                p.add_argument("--new-owner", type=_address, required=True),
            ),
            lambda a, args: offer_meter(a, _meter_id(args), args.new_owner),
        ),
        "approve-signer": (
            "agree to a new key for your meter, for an installer to put in place",
            lambda p: (
                _add_meter_arguments(p),
                p.add_argument("--signer", type=_address, required=True),
            ),
            lambda a, args: approve_signer(a, _meter_id(args), args.signer),
        ),
        "open-ledger": (
            "let the bills of a meter of a backend trusted after the deployment be taken "
            "from your ledger (--close to stop)",
            lambda p: (
                _add_meter_arguments(p),
                p.add_argument("--backend", type=_address, required=True),
                p.add_argument("--close", action="store_true", help="stop instead"),
            ),
            lambda a, args: open_ledger(a, args.backend, _meter_id(args), not args.close),
        ),
    },
    "market": {
        "offer": (
            "offer a producing meter's energy for an interval on the Exchange",
            lambda p: _add_order_arguments(p, bid=False),
            lambda a, args: place_order(
                a, "offer", _meter_id(args), args.interval, args.kwh, args.price, False
            ),
        ),
        "bid": (
            "bid for energy delivered to a consuming meter in an interval (escrowed now)",
            lambda p: _add_order_arguments(p, bid=True),
            lambda a, args: place_order(
                a, "bid", _meter_id(args), args.interval, args.kwh, args.price, args.retire
            ),
        ),
        "take": (
            "take an order at its terms: an offer with your consuming meter, a bid with "
            "your producing one",
            lambda p: (
                _add_meter_arguments(p),
                p.add_argument("--order", type=_natural, required=True, help="the order id"),
                p.add_argument("--kwh", help='kWh to take, e.g. "0.8"; default: all open'),
            ),
            lambda a, args: take_order(a, args.order, _meter_id(args), args.kwh),
        ),
        "cancel": (
            "cancel your open order (a bid's escrow comes back)",
            lambda p: p.add_argument("--order", type=_natural, required=True, help="the order id"),
            lambda a, args: cancel_order(a, args.order),
        ),
        "amend": (
            "change your open order's energy and price (a bid's escrow follows)",
            lambda p: (
                p.add_argument("--order", type=_natural, required=True, help="the order id"),
                p.add_argument("--kwh", required=True, help='energy, e.g. "1.5"'),
                p.add_argument("--price", required=True, help='tokens per kWh, e.g. "0.25"'),
            ),
            lambda a, args: amend_order(a, args.order, args.kwh, args.price),
        ),
        "withdraw-credit": (
            "collect your Exchange credit: payments for Wh you sold, and refunds",
            lambda p: None,
            lambda a, args: withdraw_credit(a),
        ),
        "claim-certificates": (
            "collect the certificates the Exchange holds for you (a contract's, or issued late)",
            lambda p: (
                p.add_argument("--certificate", type=_natural, required=True, help="its id"),
                p.add_argument("--recipient", type=_address, help="default: your account"),
            ),
            lambda a, args: claim_certificates(a, args.certificate, args.recipient),
        ),
        "settle": (
            "settle the Exchange's deals made since a block whose interval is measured "
            "(or past the timeout: refunded)",
            lambda p: (
                p.add_argument("--from-block", type=_natural, required=True),
                p.add_argument("--to-block", type=_natural, help="default: the latest"),
            ),
            lambda a, args: settle_deals(a, args.from_block, args.to_block or "latest"),
        ),
        "standing-offer": (
            "offer a producing meter's energy in every interval of a period, in the "
            "hourly auction, for no less than a price",
            lambda p: _add_standing_arguments(p, bid=False),
            _standing_command("offer"),
        ),
        "standing-bid": (
            "bid for energy in every interval of a period, in the hourly auction, for no "
            "more than a price (the whole period's escrow now)",
            lambda p: _add_standing_arguments(p, bid=True),
            _standing_command("bid"),
        ),
        "standing-orders": (
            "list your standing orders with their fills, interval by interval",
            lambda p: None,
            lambda a, args: standing_orders(a),
        ),
        "cancel-standing": (
            "cancel your standing order from an interval on (a bid's escrow comes back)",
            lambda p: (
                p.add_argument("--order", type=_natural, required=True, help="the order id"),
                p.add_argument(
                    "--from",
                    dest="start",
                    type=_time,
                    required=True,
                    help="the first interval to cancel: ISO 8601 or unix seconds",
                ),
            ),
            lambda a, args: cancel_standing_order(a, args.order, args.start),
        ),
        "release-standing": (
            "settle a standing bid's escrow of its cleared intervals into Auction credit",
            lambda p: (
                p.add_argument("--order", type=_natural, required=True, help="the order id"),
                p.add_argument("--intervals", type=_natural, help="default: every cleared one"),
            ),
            lambda a, args: release_standing_bid(a, args.order, args.intervals),
        ),
        "withdraw-auction-credit": (
            "collect your Auction credit: escrow released, fills paid back",
            lambda p: None,
            lambda a, args: withdraw_auction_credit(a),
        ),
    },
    "keeper": {
        "clear-auctions": (
            "clear every auction interval past its gate closure and deliver its fills as "
            "Exchange deals",
            lambda p: None,
            lambda a, args: clear_auctions(a),
        ),
        "run": (
            "for every meter over a period: (with --hub) reveal traded hours, issue "
            "certificates, settle deals, then settle intervals with the operator; what is "
            "done already is skipped",
            lambda p: (
                _add_period_options(p),
                p.add_argument(
                    "--hub",
                    help="a data hub's URL: first reveal the traded hours of root-published "
                    "meters from its public proofs (keeper reveal-traded)",
                ),
            ),
            lambda a, args: keeper_run(a, *_period(args), hub=args.hub),
        ),
        "expire": (
            "log a certificate's expiry once its validity has passed",
            lambda p: p.add_argument("--certificate", type=_natural, required=True, help="its id"),
            lambda a, args: expire_certificate(a, args.certificate),
        ),
        "net-span": (
            "net a step of a long measurement (a meter that missed readings) against the "
            "Exchange, so that the operator can settle it",
            lambda p: (
                _add_meter_arguments(p),
                p.add_argument("--backend", type=_address, help="default: the deployment's"),
                p.add_argument("--interval", type=_time, required=True, help="its begin"),
            ),
            lambda a, args: net_span(
                a,
                args.backend or a.contract("SmartMeterBackend").address,
                _meter_id(args),
                args.interval,
            ),
        ),
        "settle": (
            "settle with the operator a meter's measurements that begin in a period",
            _add_period_arguments,
            lambda a, args: settle_intervals(a, _meter_id(args), *_period(args)),
        ),
        "issue": (
            "issue the certificates of a meter's hourly production in a period",
            _add_period_arguments,
            lambda a, args: issue_certificates(a, _meter_id(args), *_period(args)),
        ),
        "settle-deals": (
            "settle the Exchange's deals made since a block whose interval is measured "
            "(or past the timeout: refunded)",
            lambda p: (
                p.add_argument("--from-block", type=_natural, required=True),
                p.add_argument("--to-block", type=_natural, help="default: the latest"),
            ),
            lambda a, args: settle_deals(a, args.from_block, args.to_block or "latest"),
        ),
    },
    "installer": {
        "register-meter": (
            "register a sealed meter and the key made on its device",
            lambda p: (
                _add_meter_arguments(p),
                p.add_argument(
                    "--signer",
                    type=_address,
                    required=True,
                    help="address of the meter key (from `meter-bridge keygen`)",
                ),
                p.add_argument("--owner", type=_address, required=True),
                p.add_argument(
                    "--sector", type=SECTOR, required=True, help='bidding zone, e.g. "DK1"'
                ),
                p.add_argument("--kind", choices=sorted(KIND_CHOICES), required=True),
                p.add_argument(
                    "--capacity-w",
                    type=_natural,
                    default=0,
                    help="rated production capacity in W (producers)",
                ),
                p.add_argument(
                    "--connection-w",
                    type=_natural,
                    required=True,
                    help="the connection's rating in W, the main fuse "
                    "(3 x 25 A at 230 V is 17250): readings claiming more import are refused",
                ),
                p.add_argument(
                    "--tech-code", type=CODE, default="", help='AIB EECS, e.g. "T020002"'
                ),
                p.add_argument(
                    "--fuel-code", type=CODE, default="", help='AIB EECS, e.g. "F01050100"'
                ),
                p.add_argument(
                    "--by-root",
                    action="store_true",
                    help="the meter publishes by Merkle root through its sector's data hub "
                    "(MeasurementRoots), for good: it takes no readings, and its hours go on "
                    "chain only when revealed (`openkwh prosumer reveal`)",
                ),
            ),
            lambda a, args: register_meter(
                a,
                _meter_id(args),
                args.signer,
                args.owner,
                args.sector,
                args.kind,
                args.capacity_w,
                args.tech_code,
                args.fuel_code,
                args.connection_w,
                args.by_root,
            ),
        ),
        "rotate-signer": (
            "put in place the new meter key its owner approved",
            lambda p: (
                _add_meter_arguments(p),
                p.add_argument("--signer", type=_address, required=True),
                p.add_argument(
                    "--new-device",
                    action="store_true",
                    help="the device was replaced: its first reading is a new baseline",
                ),
            ),
            lambda a, args: rotate_signer(a, _meter_id(args), args.signer, args.new_device),
        ),
    },
}


# What each role is, for the command lines' help.
ROLE_TITLES = {
    "admin": "the deployment's admin: appoints issuing bodies and operators, factor "
    "publishers and auditors",
    "operator": "the grid operator: tariffs, the reward treasury, suspending meters, "
    "trusting meter backends",
    "issuing_body": "an issuing body: certifies its sector's installers, revokes certificates, "
    "appoints its factor publishers and auditors",
    "installer": "a certified installer: registers meters and puts new meter keys in place",
    "prosumer": "a meter's owner: meters, acceptances, the operator ledger, tokens, certificates, "
    "Scope 2 statements",
    "market": "anyone trading on the Exchange: offers, bids, takes, standing orders in the "
    "hourly auction, settling deals, credit",
    "keeper": "anyone: clears auctions, settles intervals and deals, issues certificates",
}


def add_shared_arguments(parser: argparse.ArgumentParser, *, defaults: bool = False) -> None:
    """The options of every command: network and account, the deployments file
    and ``--json``. Without ``defaults`` an option not given is left out of the
    namespace (so it may be given at any level of sub-commands), and
    ``run_command`` fills it in."""
    add_network_arguments(parser, defaults=defaults)
    unset = None if defaults else argparse.SUPPRESS
    parser.add_argument(
        "--deployments",
        type=Path,
        default=unset,
        help="deployments file (default: deployments/<network>.json)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        default=False if defaults else argparse.SUPPRESS,
        help="one JSON object per transaction (tx, block, gas) instead of a line in words",
    )


class Report(dict):
    """What a command found or did besides its transactions (a statement, a
    request): printed as one JSON object with ``--json``; its words went to the log."""


def _sent(actor: Actor) -> list[dict]:
    return [
        {"tx": r["transactionHash"].to_0x_hex(), "block": r["blockNumber"], "gas": r["gasUsed"]}
        for r in actor.sent
    ]


def main(role: str, argv: list[str] | None = None) -> int:
    """The command line of one role: ``python -m openkwh.commands.<role>`` (JSON output)."""
    parser = argparse.ArgumentParser(
        prog=f"python -m openkwh.commands.{role}",
        description=f"OpenKWh {role.replace('_', ' ')} actions on a deployment "
        "(deployments/<network>.json); `openkwh` has every role's.",
    )
    add_shared_arguments(parser, defaults=True)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (text, add_arguments, _) in COMMANDS[role].items():
        add_arguments(commands.add_parser(name, help=text, description=text))
    return run_command(parser, role, parser.parse_args(argv), human=False)


def run_command(
    parser: argparse.ArgumentParser, role: str, args: argparse.Namespace, *, human: bool
) -> int:
    """Runs the parsed command of ``role`` and prints a line per transaction:
    in words if ``human`` and not ``--json``, else as JSON."""
    prog = (
        f"{parser.prog} {args.command}"
        if not human
        else f"{parser.prog} {role.replace('_', '-')} {args.command}"
    )
    if getattr(args, "gsrn", None) and not args.salt_file:
        parser.error("--gsrn needs --salt-file")
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    network = getattr(args, "network", None) or os.environ.get("NETWORK", "anvil")
    path = getattr(args, "deployments", None) or deployments_path(network, DEPLOYMENTS_DIR)
    try:
        deployment = Deployment.load(path)
    except DeploymentError as exc:
        parser.exit(2, f"{parser.prog}: {exc}\n")
    try:
        conn = connect_from_args(args)
    except ConnectionSetupError as exc:
        parser.exit(2, f"{parser.prog}: {exc}\n")
    if conn.chain_id != deployment.chain_id:
        parser.exit(
            2,
            f"{parser.prog}: {path} is for chain {deployment.chain_id}, "
            f"the node is chain {conn.chain_id}\n",
        )
    run = COMMANDS[role][args.command][2]
    try:
        actor = Actor(conn.w3, conn.account, deployment)
        result = run(actor, args)
    except (TransactionFailed, ValueError) as exc:
        parser.exit(1, f"{prog}: {exc}\n")
    except OSError as exc:  # a salt file missing or unreadable, say
        parser.exit(1, f"{prog}: {exc.strerror}: {exc.filename}\n")
    as_json = getattr(args, "json", False) or not human
    if isinstance(result, Report):  # figures found or made: one JSON object with its transactions
        if as_json:
            print(json.dumps({**result, "transactions": _sent(actor)}, default=str))
        else:
            for line in _sent(actor):
                print(f"sent {line['tx']}: in block {line['block']}, {line['gas']:,} gas")
        return 0
    # A line for every transaction sent, an approval before its payment too.
    receipts = actor.sent or (result if isinstance(result, list) else [result])
    for receipt in receipts:
        tx, block, gas = (
            receipt["transactionHash"].to_0x_hex(),
            receipt["blockNumber"],
            receipt["gasUsed"],
        )
        if as_json:
            print(json.dumps({"tx": tx, "block": block, "gas": gas}))
        else:
            print(f"sent {tx}: in block {block}, {gas:,} gas")
    if not receipts and not as_json:
        print("nothing to send")
    return 0


# The emissions commands (auditor, factor publisher, statements) add themselves
# to COMMANDS and ROLE_TITLES: they use the helpers above; so do the
# MeasurementRoots commands (data hubs, publishing roots, reveals).
from openkwh.commands import emissions as _emissions  # noqa: E402, F401
from openkwh.commands import roots as _roots  # noqa: E402, F401

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1]))
