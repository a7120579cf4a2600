"""The data hub (issue 18): a sector's measurements in, Merkle roots on chain, proofs out.

- ``leaves``: the leaf encodings MeasurementRoots.vy verifies (OpenZeppelin
  StandardMerkleTree), and the meter's EIP-712 signature, checked with coincurve;
- ``tree``: the StandardMerkleTree of an interval, built in pure Python;
- ``store``: SQLite by default, PostgreSQL through the same code;
- ``ingest``: meter-signed readings and DataHub CSV files, refused with a reason;
- ``publish``: the roots on chain, the leaf sets content-addressed (and to kubo);
- ``app``: the HTTP service (`openkwh hub serve`), proofs behind Sign-In with Ethereum;
- ``client``: its client (sign-in, proofs, multiproofs), for `prosumer fetch-proof`
  and `keeper reveal-traded`: a refusal comes back with the hub's status and reason.
"""
