"""Encrypted P1 (DLMS general-glo-ciphering, AES-128-GCM): a real Luxembourg Smarty
frame with the key its owner published, and the real Sagemcom T210-D-R capture
encrypted as dsmr_parser's own test does, read with the right keys; a wrong key
and a damaged frame are told apart; the keys file is the owner's alone."""

import os
from datetime import UTC, datetime

import pytest

from meter_bridge import config as config_module
from meter_bridge.protocols import Keys, decoder
from tests.fixtures import captures
from tests.fixtures.crafted import AUTHENTICATION_KEY, ENCRYPTION_KEY, encrypted

FRAME = encrypted(captures.SAGEMCOM_T210_D_R)
SAGEMCOM = (5_017_120 + 1_528_646, 58)  # 1-0:1.8.1(005017120*Wh) 1.8.2(001528646*Wh) ...
# name -> (frame, protocol, encryption key, authentication key, import Wh, export Wh)
FRAMES = {
    "sagemcom": (FRAME, "sagemcom-t210-d-r", ENCRYPTION_KEY, AUTHENTICATION_KEY, *SAGEMCOM),
    # decrypted: 1-0:1.8.0(000006.695*kWh) 1-0:2.8.0(000000.025*kWh) (what meterlogger's
    # test of the same frame expects too: 6.695 and 0.025)
    "smarty": (
        captures.SMARTY_NEXXTLAB_ENCRYPTED,
        "smarty",
        captures.SMARTY_NEXXTLAB_KEY,
        captures.LUXEMBOURG_AUTHENTICATION_KEY,
        6_695,
        25,
    ),
}


def read(keys: Keys, data: bytes, size: int | None = None, protocol="sagemcom-t210-d-r"):
    stream = decoder(protocol, keys=keys)
    chunks = [data] if size is None else [data[i : i + size] for i in range(0, len(data), size)]
    return [t for chunk in chunks for t in stream.feed(chunk)], stream


@pytest.mark.parametrize("size", [None, 1, 7, 64])
@pytest.mark.parametrize("authenticated", [True, False])
@pytest.mark.parametrize("name", sorted(FRAMES))
def test_an_encrypted_telegram_reads_as_its_registers(name, authenticated, size):
    frame, protocol, encryption_key, authentication_key, *registers = FRAMES[name]
    keys = Keys(encryption_key, authentication_key if authenticated else None)
    telegrams, stream = read(keys, b"\x00" + frame + frame, size, protocol)
    assert [(t.import_wh, t.export_wh) for t in telegrams] == [tuple(registers)] * 2
    assert telegrams[0].raw == frame  # the evidence is the bytes the meter sent
    assert stream.skipped == {"garbage": 1}


def test_the_real_smarty_frame_is_a_luxembourg_telegram_of_its_time():
    keys = Keys(captures.SMARTY_NEXXTLAB_KEY, captures.LUXEMBOURG_AUTHENTICATION_KEY)
    (telegram,), _ = read(keys, captures.SMARTY_NEXXTLAB_ENCRYPTED, protocol="auto")
    # decrypted: /Lux5\253663629_D ... 0-0:1.0.0(180130102122W), winter time: UTC+1
    assert (telegram.protocol, telegram.meter) == ("smarty", "Lux5\\253663629_D")
    assert telegram.meter_time == int(datetime(2018, 1, 30, 9, 21, 22, tzinfo=UTC).timestamp())


@pytest.mark.parametrize("name", sorted(FRAMES))
def test_auto_finds_the_specification_inside(name):
    frame, protocol, encryption_key, authentication_key, *registers = FRAMES[name]
    telegrams, stream = read(Keys(encryption_key, authentication_key), frame, protocol="auto")
    assert [(t.import_wh, t.export_wh) for t in telegrams] == [tuple(registers)]
    assert stream.protocol == protocol


@pytest.mark.parametrize("wrong", ["encryption", "authentication", "encryption alone"])
@pytest.mark.parametrize("name", sorted(FRAMES))
def test_a_wrong_key_has_its_own_reason(name, wrong):
    frame, protocol, encryption_key, authentication_key, *_ = FRAMES[name]
    keys = {
        "encryption": Keys(bytes(16), authentication_key),
        "authentication": Keys(encryption_key, bytes(16)),
        "encryption alone": Keys(bytes(16)),
    }[wrong]
    telegrams, stream = read(keys, frame, protocol=protocol)
    assert telegrams == []
    assert stream.skipped == {"wrong key": 1}


@pytest.mark.parametrize("authenticated", [True, False])
@pytest.mark.parametrize("name", sorted(FRAMES))
def test_a_damaged_frame_is_not_a_wrong_key(name, authenticated):
    frame, protocol, encryption_key, authentication_key, *registers = FRAMES[name]
    keys = Keys(encryption_key, authentication_key if authenticated else None)
    damaged = bytearray(frame)
    damaged[150] ^= 0x01  # inside the ciphertext, within the telegram's registers
    telegrams, stream = read(keys, bytes(damaged) + frame, protocol=protocol)
    assert [(t.import_wh, t.export_wh) for t in telegrams] == [tuple(registers)]
    assert stream.skipped == {"crc": 1}


def test_keys_never_show_in_a_repr():
    keys = Keys(ENCRYPTION_KEY, AUTHENTICATION_KEY)
    assert "aa" not in repr(keys).lower()
    assert "AA" not in repr(keys)


def test_the_keys_file_must_be_its_owners_alone(tmp_path):
    path = tmp_path / "meter-keys.toml"
    path.write_text(f'encryption_key = "{"AA" * 16}"\nauthentication_key = "{"BB" * 16}"\n')
    path.chmod(0o644)
    with pytest.raises(config_module.ConfigError, match="readable by its owner only") as error:
        config_module.load_meter_keys(path)
    assert "AA" not in str(error.value)
    path.chmod(0o600)
    assert config_module.load_meter_keys(path) == Keys(ENCRYPTION_KEY, AUTHENTICATION_KEY)


def test_a_bare_keys_file_name_is_a_systemd_credential(tmp_path, monkeypatch):
    (tmp_path / "meter-keys").write_text(f'encryption_key = "{"AA" * 16}"\n')
    os.chmod(tmp_path / "meter-keys", 0o400)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    assert config_module.load_meter_keys(config_module.Path("meter-keys")) == Keys(ENCRYPTION_KEY)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY")
    with pytest.raises(config_module.ConfigError, match="LoadCredential"):
        config_module.load_meter_keys(config_module.Path("meter-keys"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('encryption_key = "AA"\n', "must be 32 hex digits"),
        ('authentication_key = "' + "BB" * 16 + '"\n', "expected encryption_key"),
        ('encryption_key = "' + "AA" * 16 + '"\nextra = 1\n', "expected encryption_key"),
    ],
)
def test_a_bad_keys_file_is_explained(tmp_path, text, message):
    path = tmp_path / "keys.toml"
    path.write_text(text)
    path.chmod(0o600)
    with pytest.raises(config_module.ConfigError, match=message):
        config_module.load_meter_keys(path)


def test_the_daemon_reads_an_encrypted_meter_with_its_keys_file(tmp_path):
    from meter_bridge.daemon import Bridge

    keys = tmp_path / "meter-keys.toml"
    keys.write_text(f'encryption_key = "{"AA" * 16}"\nauthentication_key = "{"BB" * 16}"\n')
    keys.chmod(0o600)
    options = {
        "meter": {"id": "0x" + "ab" * 32, "protocol": "auto", "keys_file": str(keys)},
        "store": {"path": str(tmp_path / "b.sqlite"), "blobs": str(tmp_path / "blobs")},
    }
    bridge = Bridge(config_module.parse(options))
    bridge.now = lambda: 1_798_761_600
    (reading,) = bridge.ingest(FRAME)
    assert (reading.import_wh, reading.export_wh) == SAGEMCOM
    summary = bridge.store.summary()
    assert summary["protocol"] == "sagemcom-t210-d-r"


def test_the_keys_are_never_logged_nor_stored(tmp_path, caplog):
    """The daemon reads, skips a damaged frame and a frame under another key, and says
    so in its log and its status: neither key appears in any of it, in any spelling."""
    import json
    import logging

    from meter_bridge.daemon import Bridge

    encryption, authentication = bytes(range(16)), bytes(range(16, 32))
    keys = tmp_path / "meter-keys.toml"
    keys.write_text(
        f'encryption_key = "{encryption.hex()}"\nauthentication_key = "{authentication.hex()}"\n'
    )
    keys.chmod(0o600)
    options = {
        "meter": {"id": "0x" + "ab" * 32, "protocol": "sagemcom-t210-d-r", "keys_file": str(keys)},
        "store": {"path": str(tmp_path / "b.sqlite"), "blobs": str(tmp_path / "blobs")},
    }
    bridge = Bridge(config_module.parse(options))
    bridge.now = lambda: 1_798_761_600
    damaged = bytearray(FRAME)
    damaged[len(damaged) // 2] ^= 0xFF
    with caplog.at_level(logging.DEBUG):
        assert bridge.ingest(bytes(damaged)) == []  # and under another key than the file's
        bridge.ingest(FRAME)
    told = caplog.text + json.dumps(bridge.store.summary(), default=str)
    assert bridge.store.summary()["skipped"] == {"wrong key": 2}
    assert caplog.text.count("wrong key") == 2
    for key in (encryption, authentication):
        for spelling in (key.hex(), key.hex().upper(), repr(key), key.hex(" ")):
            assert spelling not in told


@pytest.mark.parametrize("size", [None, 1, 7, 64])
@pytest.mark.parametrize("name", sorted(FRAMES))
def test_a_frame_cut_short_is_skipped_and_the_next_kept(name, size):
    frame, protocol, encryption_key, authentication_key, *registers = FRAMES[name]
    keys = Keys(encryption_key, authentication_key)
    telegrams, stream = read(keys, frame[: len(frame) // 2] + frame, size, protocol)
    assert [(t.import_wh, t.export_wh) for t in telegrams] == [tuple(registers)]
    assert stream.skipped == {"truncated": 1}
    assert not stream.evidence
