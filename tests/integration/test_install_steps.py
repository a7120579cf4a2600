"""The README's Raspberry Pi install steps, run line by line as far as they can
run here, then the service's view of the result.

The commands come from the README's ``sh`` block, with the paths moved under a
temporary folder that stands in for ``/`` and the user named uniquely (the real
``useradd`` and ``install`` run, as root). apt-get, venv and pip are left out:
``meter-bridge`` is this checkout run by the system's Python 3.11 with the
test environment's packages on its path, since the test interpreter may sit
where the service user cannot reach. Reading the configuration is then done
with exactly the user, group and supplementary groups the systemd unit gives
(``setpriv``), as systemd would: the unit's Group= first, then the user's
groups from /etc/group, then SupplementaryGroups=.
"""

import grp
import json
import os
import pwd
import re
import secrets
import shutil
import stat
import subprocess
import sysconfig
import tempfile
from pathlib import Path

import pytest

from openkwh.devtools.anvil import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"
UNIT = PROJECT_ROOT / "deploy" / "meter-bridge.service"
SYSTEM_PYTHON = Path("/usr/bin/python3.11")
TOOLS = ("useradd", "userdel", "groupdel", "install", "runuser", "setpriv")

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="useradd and install -o need root"),
    pytest.mark.skipif(
        not SYSTEM_PYTHON.exists() or any(shutil.which(t) is None for t in TOOLS),
        reason=f"needs {SYSTEM_PYTHON} and {', '.join(TOOLS)}",
    ),
]

LEFT_OUT = ("apt-get ", "python3 -m venv ", "/opt/meter-bridge/venv/bin/pip ")


def install_block() -> list[str]:
    """The command lines of the README's install section, in order."""
    section = README.read_text().split("### Installing on Raspberry Pi OS", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


def unit_credentials() -> dict[str, list[str]]:
    """User=, Group= and SupplementaryGroups= of the unit's [Service]."""
    found: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        key, _, value = line.partition("=")
        if key in ("User", "Group", "SupplementaryGroups"):
            found[key] = value.split()
    return found


class Install:
    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="meter-bridge-root-"))
        self.root.chmod(0o755)
        for folder in ("etc", "var/lib"):
            (self.root / folder).mkdir(parents=True)
        self.user = "mbtest" + secrets.token_hex(4)
        (self.root / "deployments.json").write_text(
            json.dumps(
                {
                    "chain_id": 31_337,
                    "contracts": {"SmartMeterBackend": {"address": "0x" + "00" * 20, "abi": []}},
                }
            )
        )
        pythonpath = f"{sysconfig.get_paths()['purelib']}:{PROJECT_ROOT}"
        self.bridge = f"env PYTHONPATH={pythonpath} {SYSTEM_PYTHON} -m meter_bridge.cli"

    @property
    def config(self) -> Path:
        return self.root / "etc/meter-bridge/bridge.toml"

    def here(self, text: str) -> str:
        """A README line, or a file's text, with this install's paths and user."""
        text = text.replace("/opt/meter-bridge/venv/bin/meter-bridge", self.bridge)
        text = text.replace("deployments/NETWORK.json", str(self.root / "deployments.json"))
        for system in ("/etc/meter-bridge", "/var/lib/meter-bridge"):
            text = text.replace(system, f"{self.root}{system}")
        # The user and group name, wherever it is not part of a path.
        return re.sub(r"(?<![/\w.-])meter-bridge(?![/\w.-])", self.user, text)

    def run_steps(self) -> list[str]:
        """Runs the README's lines in order; returns what each printed."""
        printed = []
        for line in install_block():
            if line.startswith(LEFT_OUT):
                continue
            command = self.here(line)
            if " -m meter_bridge.cli " in command:
                command += f" --config {self.config}"
            done = subprocess.run(
                command, shell=True, cwd=PROJECT_ROOT, capture_output=True, text=True
            )
            assert done.returncode == 0, f"{line!r} failed: {done.stderr[-2_000:]}"
            printed.append(done.stdout)
            if line.startswith("install -m 0640 -o root -g meter-bridge deploy/bridge.example"):
                # Step 2 of the README, the installer's edit: this install's paths.
                self.config.write_text(self.here(self.config.read_text()))
        return printed

    def remove(self) -> None:
        subprocess.run(["userdel", self.user], capture_output=True)
        subprocess.run(["groupdel", self.user], capture_output=True)
        shutil.rmtree(self.root)


@pytest.fixture
def install():
    made = Install()
    yield made
    made.remove()


def owner_and_mode(path: Path) -> tuple[str, str, int]:
    info = path.stat()
    return pwd.getpwuid(info.st_uid).pw_name, grp.getgrgid(info.st_gid).gr_name, info.st_mode


def test_the_readme_install_steps_run_in_order_and_keygen_runs_as_the_service_user(install):
    printed = install.run_steps()
    address = printed[-1].strip()
    assert re.fullmatch(r"0x[0-9a-fA-F]{40}", address), printed[-1]
    user = install.user
    state = install.root / "var/lib/meter-bridge"
    etc = install.root / "etc/meter-bridge"
    assert owner_and_mode(state)[:2] == (user, user)
    assert stat.S_IMODE(owner_and_mode(state)[2]) == 0o700
    assert owner_and_mode(etc)[:2] == ("root", user)
    assert stat.S_IMODE(owner_and_mode(etc)[2]) == 0o750
    for secret in (etc / "passphrase", state / "meter-key.json"):
        owner, _, mode = owner_and_mode(secret)
        assert (owner, stat.S_IMODE(mode)) == (user, 0o600), secret
    assert len((etc / "passphrase").read_text().strip()) >= 32
    assert "dialout" in [g.gr_name for g in grp.getgrall() if user in g.gr_mem]


def test_the_units_user_and_groups_read_the_configuration_key_and_state(install):
    install.run_steps()
    unit = unit_credentials()
    assert unit["User"] == ["meter-bridge"]
    user = pwd.getpwnam(install.here(unit["User"][0]))
    gid = grp.getgrnam(install.here(unit["Group"][0])).gr_gid
    groups = set(os.getgrouplist(user.pw_name, gid))
    groups |= {grp.getgrnam(install.here(g)).gr_gid for g in unit.get("SupplementaryGroups", [])}
    check = (
        "from pathlib import Path; "
        "from meter_bridge import config, keys; from meter_bridge.store import Store; "
        f"c = config.load(Path('{install.config}')); "
        "Path(c.chain.deployments).read_text(); "
        "key = keys.load_key(Path(c.meter.keystore), "
        "keys.passphrase(Path(c.meter.passphrase_file))); "
        "Store(c.store.path, 3600).close(); print(key.address)"
    )
    as_the_unit = [
        "setpriv",
        f"--reuid={user.pw_uid}",
        f"--regid={gid}",
        f"--groups={','.join(str(g) for g in sorted(groups))}",
        "--",
        *install.bridge.split()[:2],
        str(SYSTEM_PYTHON),
        "-c",
        check,
    ]
    done = subprocess.run(as_the_unit, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2_000:]
    store = install.root / "var/lib/meter-bridge/bridge.sqlite"
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
