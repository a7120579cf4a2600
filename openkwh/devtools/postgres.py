"""A throwaway PostgreSQL server for tests and benches, from Debian's package.

``temporary_postgres()`` runs initdb and pg_ctl (``/usr/lib/postgresql/*/bin``)
on a data folder and a unix socket in a new temporary folder, with no TCP
listener, and yields a ``postgresql://`` URL; the server stops and its folder
goes when the block ends. initdb refuses to run as root: as root, the server
is run as a dedicated system user (``openkwh-pg``, made on first use) through
``runuser``. ``make setup`` installs the package when initdb is absent.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from glob import glob
from pathlib import Path

SERVER_USER = "openkwh-pg"


class PostgresMissing(RuntimeError):
    """Debian's postgresql package is not installed."""


def binaries() -> Path | None:
    found = sorted(glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _as_server_user(command: list[str]) -> list[str]:
    if os.getuid() != 0:
        return command
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", SERVER_USER], check=True)
    return ["runuser", "-u", SERVER_USER, "--", *command]


@contextmanager
def temporary_postgres() -> Iterator[str]:
    """A running server's URL (user ``hub``, database ``postgres``, trust auth on its socket)."""
    bin_dir = binaries()
    if bin_dir is None:
        raise PostgresMissing(
            "PostgreSQL's binaries are absent: install Debian's postgresql package "
            "(make setup does)"
        )
    folder = Path(tempfile.mkdtemp(prefix="openkwh-pg-"))
    data, socket = folder / "data", folder / "socket"
    socket.mkdir()
    if os.getuid() == 0:
        _as_server_user(["true"])
        for path in (folder, socket):
            shutil.chown(path, SERVER_USER)
    try:
        subprocess.run(
            _as_server_user([str(bin_dir / "initdb"), "-D", str(data), "-U", "hub",
                             "--auth=trust", "--no-sync"]),
            check=True, capture_output=True,
        )  # fmt: skip
        subprocess.run(
            _as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-l",
                             str(folder / "log"), "-o",
                             f"-k {socket} -c listen_addresses='' -c fsync=off", "start"]),
            check=True, capture_output=True,
        )  # fmt: skip
        yield f"postgresql://hub@/postgres?host={socket}"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                _as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                                 "stop"]),
                capture_output=True,
            )  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)
