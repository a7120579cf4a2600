"""The bridge alone, as a Pi installs it: the distribution in meter_bridge/
(`pip install -c constraints.txt ./meter_bridge`) holds the `meter_bridge`
package, the chain client `openkwh.chain` and the `meter-bridge` command, nothing
of the commands, the dApp or the contracts' toolchain. Its wheel is built here without the package index; the
install itself, from the index into a fresh venv, is `make bench`'s
(`bridge_install_packages`, `bridge_install_mb`). And the README's Pi steps
price a year of readings at the gas snapshot,
and the systemd unit scores as the README says; step 1 makes the salt and
the meter id as the installer does."""

import argparse
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

from openkwh.bench.bridge import bridge_source
from openkwh.devtools.anvil import PROJECT_ROOT

BRIDGE = PROJECT_ROOT / "meter_bridge"


def requirements() -> list[str]:
    """meter_bridge/requirements.txt without its comments."""
    lines = (BRIDGE / "requirements.txt").read_text().splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    pytest.importorskip("setuptools", reason="builds the wheel with the venv's setuptools")
    folder = tmp_path_factory.mktemp("bridge")
    source = bridge_source(folder)
    dist = folder / "dist"
    offline = ["--no-deps", "--no-build-isolation", "--no-index", "--wheel-dir", str(dist)]
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    subprocess.run(
        [*pip, "wheel", "--quiet", *offline, str(source)], capture_output=True, check=True
    )
    (built,) = dist.glob("*.whl")
    with zipfile.ZipFile(built) as opened:
        yield opened


def dist_info(wheel: zipfile.ZipFile, name: str) -> str:
    (path,) = [n for n in wheel.namelist() if n.endswith(f".dist-info/{name}")]
    return wheel.read(path).decode()


def test_the_bridge_wheel_holds_the_meter_bridge_package_and_the_chain_client_alone(wheel):
    tops = {name.split("/")[0] for name in wheel.namelist()}
    assert {top for top in tops if not top.endswith(".dist-info")} == {"meter_bridge", "openkwh"}
    modules = {Path(name).name for name in wheel.namelist() if name.startswith("meter_bridge/")}
    assert modules == {path.name for path in BRIDGE.glob("*.py")}
    chain = PROJECT_ROOT / "openkwh" / "chain"
    assert {name for name in wheel.namelist() if name.startswith("openkwh/")} == {
        "openkwh/__init__.py",
        *(f"openkwh/chain/{path.name}" for path in chain.glob("*.py")),
    }


def test_the_bridge_wheel_has_the_meter_bridge_command_alone(wheel):
    assert dist_info(wheel, "entry_points.txt").split() == [
        "[console_scripts]",
        "meter-bridge",
        "=",
        "meter_bridge.cli:main",
    ]


def test_the_bridge_wheel_requires_the_bridges_pins_alone(wheel):
    metadata = Parser().parsestr(dist_info(wheel, "METADATA"))
    assert metadata["Name"] == "openkwh-meter-bridge"
    assert metadata.get_all("Requires-Dist") == requirements()


def test_the_project_requires_the_bridges_pins_as_its_base():
    """`make setup`'s install (openkwh, editable) has the bridge's pins as its base."""
    base = [r for r in importlib.metadata.requires("openkwh") if "extra ==" not in r]
    assert base == requirements()


def test_the_pi_steps_price_a_year_of_readings_at_the_gas_snapshot():
    """The README's gas money step follows bench/gas.json's submit_reading."""
    gas = json.loads((PROJECT_ROOT / "bench" / "gas.json").read_text())
    per_reading = gas["SmartMeterBackend.submit_reading"]["gas"]
    steps = (PROJECT_ROOT / "README.md").read_text().split("### Installing on Raspberry Pi OS")[1]
    step = " ".join(steps.split("**Gas money.**")[1].split("\n4.")[0].split())
    said = re.search(
        r"uses about ([\d,]+) gas .* 8,760 \u00d7 ([\d,]+) \u2248 (\d+) million gas", step
    )
    assert said, step
    figure, again, millions = (int(g.replace(",", "")) for g in said.groups())
    assert figure == again
    assert abs(figure - per_reading) <= 100
    assert millions == round(8_760 * figure / 1_000_000)


UNIT = PROJECT_ROOT / "deploy" / "meter-bridge.service"


def unit_settings() -> dict[str, list[str]]:
    """Each setting of the unit file and its values, in order (a key may repeat)."""
    settings: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if line.startswith(("#", "[")) or "=" not in line:
            continue
        key, _, value = line.partition("=")
        settings.setdefault(key, []).append(value)
    return settings


def test_the_unit_opens_serial_adapters_alone_restarts_within_a_limit_and_waits_for_time_sync():
    unit = unit_settings()
    assert unit["DevicePolicy"] == ["closed"]
    assert unit["DeviceAllow"] == ["char-ttyUSB rw"]
    assert unit["Restart"] == ["on-failure"]
    assert int(unit["StartLimitBurst"][0]) > 1
    assert int(unit["StartLimitIntervalSec"][0]) > 0
    for key in ("Wants", "After"):
        assert "time-sync.target" in unit[key][0].split()


def offline_security_score(unit: Path) -> tuple[float, str]:
    """What `systemd-analyze security --offline=yes` says of ``unit``: (exposure, verdict)."""
    done = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
    )
    said = re.search(r"Overall exposure level for \S+: (\d+\.\d) (\w+)", done.stdout)
    if said is None:
        pytest.skip(f"systemd-analyze cannot score a unit file offline here: {done.stderr[-300:]}")
    return float(said[1]), said[2]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_the_units_security_exposure_is_at_most_3_as_the_readme_says(tmp_path):
    """The score the README and the unit's comment report is the one systemd gives."""
    unit = tmp_path / "meter-bridge.service"  # scored under the name it is installed as
    shutil.copy(UNIT, unit)
    exposure, verdict = offline_security_score(unit)
    assert exposure <= 3.0
    hardening = (PROJECT_ROOT / "README.md").read_text().split("**Hardening.**")[1]
    assert f"scores the unit **{exposure} {verdict}**" in " ".join(hardening.split())
    assert f"scores it {exposure} {verdict}" in UNIT.read_text()


def test_the_pi_steps_make_the_salt_and_the_meter_id_as_the_installer_does(tmp_path):
    """Step 1's commands, run as written (the venv's meter-bridge is this checkout's):
    the salt it makes, read byte for byte, gives the id the installer registers."""
    from eth_utils import keccak

    from openkwh.commands.actions import _meter_id

    steps = (PROJECT_ROOT / "README.md").read_text().split("### Installing on Raspberry Pi OS")[1]
    step = " ".join(steps.split("**The meter id.**")[1].split("\n2.")[0].split())
    make_salt, compute = re.findall(r"`([^`]*)`", step)[:2]
    assert make_salt == "head -c 32 /dev/urandom > salt"
    assert compute.startswith("/opt/meter-bridge/venv/bin/meter-bridge meter-id --gsrn ")
    subprocess.run(make_salt, shell=True, cwd=tmp_path, check=True)
    bridge = f"{sys.executable} -m meter_bridge.cli"
    done = subprocess.run(
        compute.replace("/opt/meter-bridge/venv/bin/meter-bridge", bridge),
        shell=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    salt = (tmp_path / "salt").read_bytes()
    gsrn = compute.split("--gsrn ")[1].split()[0]
    assert len(salt) == 32
    assert done.stdout.strip() == "0x" + keccak(salt + gsrn.encode()).hex()
    # `python -m openkwh.commands.installer register-meter --gsrn G --salt-file salt`'s id:
    installer = argparse.Namespace(meter_id=None, gsrn=gsrn, salt_file=tmp_path / "salt")
    assert done.stdout.strip() == "0x" + _meter_id(installer).hex()
