"""The bridge's TOML configuration; `deploy/bridge.example.toml` documents every option."""

from __future__ import annotations

import os
import time
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from meter_bridge.protocols import PROTOCOLS, SML_CRCS, Keys


class ConfigError(ValueError):
    """A configuration that cannot work; the message names the option."""


# A plausibility bound read from the meter's registration on chain (bounds.py).
REGISTERED = "registered"
# The bounds of hub relay mode, where no registration is read, and until the
# first read of a registered bound: a 3 x 80 A connection's 55 kW.
DEFAULT_BOUND_W = 55_000


@dataclass(frozen=True)
class MeterConfig:
    id: str  # 0x-prefixed bytes32, the meter id registered on chain
    protocol: str = "dsmr5"  # one of protocols.PROTOCOLS, or "auto"
    sml_crc: str = "x25"  # x25, or kermit (Holley DTZ541)
    # W, or "registered" (the default in chain relay mode, DEFAULT_BOUND_W in hub
    # relay mode): import grows no faster than the connection's rating allows,
    # export no faster than the installation's capacity (see bounds.py)
    max_import_w: int | str = REGISTERED
    max_export_w: int | str = REGISTERED
    fallback_w: int = DEFAULT_BOUND_W  # a registered bound's, until the chain is read
    rebase_after: int = 10  # consistent telegrams in a row that re-base after a jump
    keys_file: str = ""  # an encrypted meter's keys (TOML), readable by its owner only
    keystore: str = "/var/lib/meter-bridge/meter-key.json"
    passphrase_file: str = ""  # empty: $METER_BRIDGE_PASSPHRASE


@dataclass(frozen=True)
class SerialConfig:
    port: str = "/dev/ttyUSB0"
    baudrate: int = 115_200
    bytesize: int = 8
    parity: str = "N"  # N, E or O
    stopbits: int = 1


@dataclass(frozen=True)
class ChainConfig:
    rpc_url: str = "http://127.0.0.1:8545"
    deployments: str = "/etc/meter-bridge/deployments.json"
    confirmations: int = 2
    bump_after: int = 60
    bump_percent: int = 25
    max_fee_gwei: float = 100.0  # no transaction offers more per gas
    # seconds between checks of registration, signer, chain and funds, and between
    # reads of the registered plausibility bounds
    check_every: int = 600
    max_batch: int = 24
    poll_seconds: float = 5.0
    relayer_keystore: str = ""  # empty: the meter key relays
    relayer_passphrase_file: str = ""


@dataclass(frozen=True)
class StoreConfig:
    path: str = "/var/lib/meter-bridge/bridge.sqlite"
    blobs: str = "/var/lib/meter-bridge/blobs"


@dataclass(frozen=True)
class IpfsConfig:
    api: str = ""  # e.g. http://127.0.0.1:5001; empty: the local blob store is the record


@dataclass(frozen=True)
class HubConfig:
    # A root-published meter's data hub (issue 18), e.g. https://hub.example: the
    # bridge posts its signed measurements there instead of sending transactions.
    # Empty: chain mode, readings go to the SmartMeterBackend.
    url: str = ""
    max_batch: int = 24  # measurements a post
    timeout: float = 30.0  # seconds a post may take


@dataclass(frozen=True)
class ClockConfig:
    interval_length: int = 3_600
    max_skew: int = 60
    speed: float = 1.0
    origin: float = 0.0
    origin_wall: float = 0.0
    # Simulations only: device time is the integer a driver writes to this file
    # (``openkwh.demo.bridges.SteppedClock``), so it moves only when the driver says.
    file: str = ""

    def now(self) -> int:
        """Device time in unix seconds: the system clock, or a simulation's clock
        (stepped by a driver, or running ``speed`` times as fast)."""
        if self.file:
            return int(Path(self.file).read_text())
        if self.speed == 1.0:
            return int(time.time())
        return int(self.origin + (time.time() - self.origin_wall) * self.speed)


@dataclass(frozen=True)
class Config:
    meter: MeterConfig
    serial: SerialConfig = field(default_factory=SerialConfig)
    chain: ChainConfig = field(default_factory=ChainConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    ipfs: IpfsConfig = field(default_factory=IpfsConfig)
    hub: HubConfig = field(default_factory=HubConfig)
    clock: ClockConfig = field(default_factory=ClockConfig)

    @property
    def meter_id(self) -> bytes:
        return bytes.fromhex(self.meter.id.removeprefix("0x"))


SECTIONS = {
    "meter": MeterConfig,
    "serial": SerialConfig,
    "chain": ChainConfig,
    "store": StoreConfig,
    "ipfs": IpfsConfig,
    "hub": HubConfig,
    "clock": ClockConfig,
}


def load_meter_keys(path: Path) -> Keys:
    """An encrypted meter's keys: a TOML file with ``encryption_key`` and, where the
    meter has one, ``authentication_key`` (32 hex digits each), readable by its
    owner only. No message names a key.

    A bare name (no ``/``) is a systemd credential: the unit's
    ``LoadCredential=<name>:/etc/meter-bridge/<file>`` lets systemd read the
    root-only file and hand it to the service alone, in $CREDENTIALS_DIRECTORY.
    """
    credentials = os.environ.get("CREDENTIALS_DIRECTORY")
    if "/" not in str(path):
        if not credentials:
            raise ConfigError(
                f"[meter] keys_file: {path!s} names a systemd credential, but the unit "
                "loads none (LoadCredential=)"
            )
        path = Path(credentials) / path
    try:
        mode = path.stat().st_mode
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"[meter] keys_file: cannot read {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"[meter] keys_file: {path} is not TOML") from exc
    if mode & 0o077:
        raise ConfigError(
            f"[meter] keys_file: {path} must be readable by its owner only (mode 0600 or 0400), "
            f"is {mode & 0o777:04o}"
        )
    unknown = set(data) - {"encryption_key", "authentication_key"}
    if unknown or "encryption_key" not in data:
        raise ConfigError(
            f"[meter] keys_file: expected encryption_key and optionally authentication_key, "
            f"got {', '.join(sorted(data)) or 'nothing'}"
        )
    keys = {}
    for name in ("encryption_key", "authentication_key"):
        value = data.get(name)
        if value is None:
            continue
        try:
            keys[name] = bytes.fromhex(value) if isinstance(value, str) else b""
        except ValueError:
            keys[name] = b""
        if len(keys[name]) != 16:
            raise ConfigError(f"[meter] keys_file: {name} must be 32 hex digits (16 bytes)")
    return Keys(**keys)


def load(path: Path, need_id: bool = True) -> Config:
    """Reads and checks a configuration file; ``need_id=False`` (keygen: the key
    comes before the meter is registered) lets ``[meter] id`` be left out."""
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    return parse(data, need_id)


def _bounds(meter: MeterConfig, given: dict, hub: HubConfig) -> MeterConfig:
    """Checks the plausibility bounds: each a number of W, or ``registered`` in
    chain relay mode; left out, ``registered`` there and DEFAULT_BOUND_W in hub
    relay mode (the hub's --max-w is what bounds its meters there)."""
    for name in ("max_import_w", "max_export_w"):
        value = getattr(meter, name)
        if isinstance(value, str):
            if value != REGISTERED:
                raise ConfigError(
                    f'[meter] {name} must be a number of W or "{REGISTERED}", got {value!r}'
                )
            if hub.url and name in given:
                raise ConfigError(
                    f'[meter] {name} = "{REGISTERED}" needs chain relay mode: with [hub] url '
                    "the bridge reads no registration; give a number of W"
                )
            if hub.url:
                meter = replace(meter, **{name: DEFAULT_BOUND_W})
        elif value < 1:
            raise ConfigError(f'[meter] {name} must be at least 1 W, or "{REGISTERED}"')
    return meter


def parse(data: dict, need_id: bool = True) -> Config:
    unknown = set(data) - set(SECTIONS)
    if unknown:
        raise ConfigError(f"unknown section [{sorted(unknown)[0]}]")
    if not need_id and "id" not in data.get("meter", {}):
        data = {**data, "meter": {**data.get("meter", {}), "id": "0x" + "00" * 32}}
    if "meter" not in data or "id" not in data["meter"]:
        raise ConfigError("[meter] id is required: the meter id registered on chain")
    sections = {}
    for name, kind in SECTIONS.items():
        values = data.get(name, {})
        known = {f.name: f.type for f in fields(kind)}
        for key, value in values.items():
            if key not in known:
                raise ConfigError(f"[{name}] has no option {key!r}")
            expected = {"str": str, "int": int, "float": (int, float), "int | str": (int, str)}[
                known[key]
            ]
            if not isinstance(value, expected) or isinstance(value, bool):
                kind_said = {"int | str": f'number of W or "{REGISTERED}"'}.get(
                    known[key], known[key]
                )
                raise ConfigError(f"[{name}] {key} must be a {kind_said}, got {value!r}")
        sections[name] = kind(**values)
    sections["meter"] = _bounds(sections["meter"], data.get("meter", {}), sections["hub"])
    config = Config(**sections)
    meter_id = config.meter.id.removeprefix("0x")
    if len(meter_id) != 64 or any(c not in "0123456789abcdefABCDEF" for c in meter_id):
        raise ConfigError("[meter] id must be 32 bytes in hex (0x and 64 digits)")
    if config.meter.protocol not in PROTOCOLS:
        raise ConfigError(f"[meter] protocol must be one of {', '.join(PROTOCOLS)}")
    for name in ("fallback_w", "rebase_after"):
        if getattr(config.meter, name) < 1:
            raise ConfigError(f"[meter] {name} must be at least 1")
    if config.meter.sml_crc not in SML_CRCS:
        raise ConfigError(f"[meter] sml_crc must be one of {', '.join(SML_CRCS)}")
    if config.serial.parity not in ("N", "E", "O"):
        raise ConfigError("[serial] parity must be N, E or O")
    if config.clock.interval_length not in (900, 3_600):
        raise ConfigError("[clock] interval_length must be 900 or 3600, as the contract's")
    if config.chain.max_fee_gwei <= 0:
        raise ConfigError("[chain] max_fee_gwei must be above 0")
    if config.hub.url and not config.hub.url.startswith(("http://", "https://")):
        raise ConfigError("[hub] url must be an http:// or https:// URL")
    if config.hub.max_batch < 1:
        raise ConfigError("[hub] max_batch must be at least 1")
    if config.chain.confirmations < 1:
        raise ConfigError("[chain] confirmations must be at least 1")
    return config
