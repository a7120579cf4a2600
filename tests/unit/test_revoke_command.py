"""`openkwh issuing-body revoke-certificate`: the revocation, then the voids."""


def test_review_revoke_certificate_voids_each_consumers_retirements():
    """`issuing-body revoke-certificate` revokes, then voids the certificate's Wh
    retired against each consumption meter its CertificateRetired logs name, summed
    per meter (review 17: a revoked certificate still counted as matched)."""
    from types import SimpleNamespace
    from unittest import mock

    from openkwh.commands import actions

    home, office = b"\x01" * 32, b"\x02" * 32
    logs = [
        {"args": {"consumption_meter_id": home, "wh": 300}},
        {"args": {"consumption_meter_id": office, "wh": 200}},
        {"args": {"consumption_meter_id": home, "wh": 100}},
    ]
    actor = mock.MagicMock()
    actor.deployment = {"GGORegistry": SimpleNamespace(block=7)}
    registry = actor.contract.return_value
    registry.functions.certificate_id.return_value.call.return_value = 42
    registry.events.CertificateRetired.return_value.get_logs.return_value = logs
    actions.revoke_certificate(actor, b"\x09" * 32, 3_600, "tampered seal")
    registry.events.CertificateRetired.return_value.get_logs.assert_called_once_with(
        from_block=7, argument_filters={"id": 42}
    )
    registry.functions.revoke.assert_called_once_with(42, "tampered seal")
    assert registry.functions.void_retirement.call_args_list == [
        mock.call(42, home, 400),
        mock.call(42, office, 200),
    ]
    assert actor.send.call_count == 3
