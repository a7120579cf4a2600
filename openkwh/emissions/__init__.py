"""Scope 2 emissions off chain: Green Button bill data (``greenbutton``) and the
encrypted path of a customer's bill from its auditor to itself (``bill``).
The EmissionsRegistry contract computes and records the statements; the
commands are in openkwh.commands.emissions."""
