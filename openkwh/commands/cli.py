"""`openkwh`: one command line for every role that acts on a deployment.

    openkwh ROLE COMMAND [OPTIONS]
    openkwh hub COMMAND [OPTIONS]    the data hub service (openkwh.hub.cli)

The roles and their commands are those of ``openkwh.commands.actions.COMMANDS``; the
options every command shares (network, account, deployments file, ``--json``)
may stand anywhere on the line, before or after the role and the command.
Without ``--json`` each transaction is one line a person reads; with it, one
JSON object per transaction, as ``python -m openkwh.commands.<role>`` prints.
"""

from __future__ import annotations

import argparse
import sys

from openkwh.commands import emissions, roots
from openkwh.commands.actions import COMMANDS, ROLE_TITLES, add_shared_arguments, run_command

PROG = "openkwh"

# The roles as the command line names them, and their keys in COMMANDS.
ROLES = {
    "admin": "admin",
    "operator": "operator",
    "issuing-body": "issuing_body",
    "installer": "installer",
    "prosumer": "prosumer",
    "market": "market",
    "keeper": "keeper",
    "publisher": "publisher",
    "auditor": "auditor",
    "data-hub": "data_hub",
}

# One example per command, shown by its --help.
EXAMPLES = {
    ("admin", "set-issuing-body"): "--sector DK1 --body 0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65",
    ("admin", "grant-operator"): "--account-address 0x90F79bf6EB2c4f870365E785982E1f101E93b906",
    ("operator", "withdraw-revenue"): "--amount 100",
    (
        "operator",
        "announce-tariff",
    ): "--retail 0.30 --feed-in 0,08 --effective-from 2026-07-01T00:00Z",
    ("operator", "fund-treasury"): "--amount 1000",
    ("operator", "suspend-meter"): "--gsrn 571313115100000006 --salt-file salt "
    '--reason "seal broken"',
    ("operator", "resume-meter"): '--gsrn 571313115100000006 --salt-file salt --reason "resealed"',
    ("operator", "set-connection-rating"): "--gsrn 571313115100000006 --salt-file salt "
    '--connection-w 43470 --reason "3 x 63 A fuse"',
    ("operator", "trust-backend"): "--backend 0x5FbDB2315678afecb367f032d93F642f64180aa3",
    ("operator", "untrust-backend"): "--backend 0x5FbDB2315678afecb367f032d93F642f64180aa3",
    ("issuing-body", "certify-installer"): "--sector DK1 "
    "--installer 0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc",
    ("issuing-body", "withdraw-certification"): "--sector DK1 "
    "--installer 0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc",
    ("issuing-body", "revoke-certificate"): "--gsrn 571313115100000006 --salt-file salt "
    '--interval 2026-06-20T10:00Z --reason "meter found faulty"',
    ("installer", "register-meter"): "--gsrn 571313115100000006 --salt-file salt "
    "--signer 0x… --owner 0x… --sector DK1 --kind both --capacity-w 6000 "
    "--connection-w 17250 --tech-code T020002 --fuel-code F01050100",
    ("installer", "rotate-signer"): "--gsrn 571313115100000006 --salt-file salt --signer 0x…",
    ("prosumer", "accept-meter"): "--gsrn 571313115100000006 --salt-file salt --max-debt 0",
    ("prosumer", "offer-meter"): "--gsrn 571313115100000006 --salt-file salt --new-owner 0x…",
    ("prosumer", "approve-signer"): "--gsrn 571313115100000006 --salt-file salt --signer 0x…",
    ("prosumer", "open-ledger"): "--gsrn 571313115100000006 --salt-file salt --backend 0x…",
    ("prosumer", "buy-tokens"): "--ether 0.5",
    ("prosumer", "deposit"): "--amount 12,5",
    ("prosumer", "withdraw"): "--amount 12.5",
    ("market", "withdraw-credit"): "",
    ("prosumer", "pay-meter-debt"): "--gsrn 571313115100000006 --salt-file salt --amount 3",
    ("market", "offer"): "--gsrn 571313115100000006 --salt-file salt "
    "--interval 2026-06-20T10:00Z --kwh 1,5 --price 0.25",
    ("market", "bid"): "--gsrn 571313115100000006 --salt-file salt "
    "--interval 2026-06-20T10:00Z --kwh 1.5 --price 0.30 --retire",
    ("market", "take"): "--order 7 --gsrn 571313115100000006 --salt-file salt --kwh 0.8",
    ("market", "cancel"): "--order 7",
    ("keeper", "settle"): "--gsrn 571313115100000006 --salt-file salt "
    "--from 2026-06-20 --to 2026-06-21",
    ("keeper", "issue"): "--gsrn 571313115100000006 --salt-file salt "
    "--from 2026-06-20 --to 2026-06-21",
    ("keeper", "settle-deals"): "--from-block 1",
    ("keeper", "clear-auctions"): "",
    ("market", "standing-offer"): "--gsrn 571313115100000006 --salt-file salt "
    "--from 2026-06-20 --to 2026-06-27 --wh 1500 --price 0.10",
    ("market", "standing-bid"): "--gsrn 571313115100000006 --salt-file salt "
    "--from 2026-06-20T06:00Z --to 2026-06-20T22:00Z --forecast forecast.csv --price 0,25",
    ("market", "standing-orders"): "",
    ("market", "cancel-standing"): "--order 3 --from 2026-06-24",
    ("market", "release-standing"): "--order 3",
    ("market", "withdraw-auction-credit"): "",
    ("market", "settle"): "--from-block 1",
    ("keeper", "run"): "--from 2026-06-20 --to 2026-06-21",
    ("keeper", "expire"): "--certificate 42",
    ("keeper", "net-span"): "--gsrn 571313115100000006 --salt-file salt "
    "--interval 2026-06-20T10:00Z",
    ("admin", "wire"): "--what registry-exchange --address 0x…",
    ("admin", "revoke-role"): "--contract OperatorBackend --role OPERATOR_ROLE "
    "--account-address 0x…",
    ("admin", "renounce-role"): "--contract SmartMeterBackend --role OPERATOR_ROLE",
    ("admin", "transfer-ownership"): "--new-owner 0x…",
    ("admin", "accept-ownership"): "",
    ("admin", "recover-unsold-tokens"): "--recipient 0x…",
    ("market", "amend"): "--order 7 --kwh 2 --price 0,28",
    ("market", "claim-certificates"): "--certificate 42",
    ("prosumer", "transfer"): "--to 0x… --amount 5",
    ("prosumer", "claim-arrears"): "",
    ("prosumer", "transfer-certificate"): "--certificate 42 --to 0x… --kwh 0.5",
    ("prosumer", "retire"): "--certificate 42 --kwh 0.5 --gsrn 571313115100000006 "
    '--salt-file salt --note "2026 report"',
    ("prosumer", "approve-claimer"): "--claimer 0x…",
}


EXAMPLES.update(emissions.EXAMPLES)
EXAMPLES.update(roots.EXAMPLES)


def build_parser() -> argparse.ArgumentParser:
    # The shared options are declared at every level with no default of their
    # own, so that one given before the role is not reset by the command's
    # parser; `run_command` fills in the defaults.
    shared = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    add_shared_arguments(shared)
    parser = argparse.ArgumentParser(
        prog=PROG,
        parents=[shared],
        description="OpenKWh on chain: a command for every action of every role, on the "
        "deployment in deployments/<network>.json. Options may stand anywhere on the line.",
        epilog=f"example: {PROG} prosumer deposit --amount 12,5 --account anna\n"
        f"each role lists its commands: {PROG} ROLE --help\n"
        f"the data hub service (ingest, publish roots, serve proofs): {PROG} hub --help",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    roles = parser.add_subparsers(dest="role", required=True, metavar="ROLE")
    for role, key in ROLES.items():
        role_parser = roles.add_parser(
            role,
            parents=[shared],
            help=ROLE_TITLES[key],
            description=f"{ROLE_TITLES[key][0].upper()}{ROLE_TITLES[key][1:]}.",
            epilog=f"each command's --help describes it, with an example: "
            f"{PROG} {role} {next(iter(COMMANDS[key]))} --help",
        )
        commands = role_parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
        for name, (text, add_arguments, _) in COMMANDS[key].items():
            example = " ".join(f"{PROG} {role} {name} {EXAMPLES[role, name]}".split())
            command = commands.add_parser(
                name,
                parents=[shared],
                help=text,
                description=f"{text[0].upper()}{text[1:]}.",
                epilog=f"example: {example}",
            )
            add_arguments(command)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["hub"]:  # the data hub service: openkwh.hub.cli
        from openkwh.hub.cli import main as hub_main

        return hub_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    return run_command(parser, ROLES[args.role], args, human=True)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
