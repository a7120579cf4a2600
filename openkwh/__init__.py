"""OpenKWh: peer-to-peer energy trading and hourly guarantees of origin on Ethereum.

The packages, each importing only what it needs:

- ``openkwh.chain``: the one client of the deployed contracts (the deployment,
  transactions, the EIP-712 typed data, the contracts' types). The meter bridge,
  the dApp, the commands and the tests all use it; the bridge's own install
  carries it and nothing else of this package.
- ``openkwh.commands``: the ``openkwh ROLE COMMAND`` command line and the deploy.
- ``openkwh.dapp``: the web app and its indexer.
- ``openkwh.demo``: ``make demo``; ``openkwh.bench``: ``make bench``.
- ``openkwh.devtools``: a local anvil node and the system's Chromium, for the
  demo, the bench and the tests.
"""
