# pragma version ~=0.4.3
"""
@title Stand-in for Energy Web's Issuer contract (benchmark only)
@license GNU Affero General Public License v3.0 only
@notice Energy Web's Registry (npm `@energyweb/issuer`) accepts issuance only
        from a contract that answers a static call with the certificate's
        validity data with `true`. Their own Issuer contract is upgradeable
        and runs behind a proxy with a private-issuance workflow; this
        stand-in answers `true` to `is_valid()` and forwards issuance, so that
        the Registry's own code runs as published. Its forwarding adds a few
        thousand gas to each Energy Web issuance figure.
"""


interface IRegistry:
    def issue(_to: address, _validityData: Bytes[4], _topic: uint256, _value: uint256, _data: Bytes[64]) -> uint256: nonpayable
    def batchIssueMultiple(
        _to: DynArray[address, 32],
        _validityData: DynArray[Bytes[4], 32],
        _topics: DynArray[uint256, 32],
        _values: DynArray[uint256, 32],
        _data: DynArray[Bytes[64], 32],
    ) -> DynArray[uint256, 32]: nonpayable


registry: public(immutable(IRegistry))


@deploy
def __init__(registry_: IRegistry):
    registry = registry_


@external
@view
def is_valid() -> bool:
    return True


@external
def issue(to: address, topic: uint256, amount: uint256, data: Bytes[64]) -> uint256:
    return extcall registry.issue(to, method_id("is_valid()"), topic, amount, data)


@external
def issue_many(
    to: DynArray[address, 32], topics: DynArray[uint256, 32], amounts: DynArray[uint256, 32], data: DynArray[Bytes[64], 32]
) -> DynArray[uint256, 32]:
    validity: DynArray[Bytes[4], 32] = []
    for _: address in to:
        validity.append(method_id("is_valid()"))
    return extcall registry.batchIssueMultiple(to, validity, topics, amounts, data)
