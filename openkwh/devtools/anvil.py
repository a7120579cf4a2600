"""A local anvil node on loopback, for the demo, the benchmarks and the tests.

anvil comes from the npm package ``@foundry-rs/anvil-linux-amd64`` (installed by
``npm ci``), which carries the binary itself; set ``ANVIL`` to use another one.
"""

from __future__ import annotations

import collections
import os
import queue
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

PROJECT_ROOT = Path(__file__).resolve().parents[2]

# anvil's default mnemonic: its accounts are public knowledge and hold ether
# only on a local chain. Never use them anywhere else.
DEV_MNEMONIC = "test test test test test test test test test test test junk"
DEV_CHAIN_ID = 31_337
STARTUP_TIMEOUT = 30  # seconds

_LISTENING = re.compile(r"Listening on (\S+):(\d+)")

Account.enable_unaudited_hdwallet_features()


class AnvilError(RuntimeError):
    """anvil could not be found or did not start."""


def dev_accounts(count: int = 10) -> list[LocalAccount]:
    """The first ``count`` accounts anvil funds from its default mnemonic."""
    return [
        Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}")
        for i in range(count)
    ]


def anvil_executable() -> str:
    """Path of the anvil binary: ``$ANVIL`` or the one ``npm ci`` installed."""
    if path := os.environ.get("ANVIL"):
        return path
    path = PROJECT_ROOT / "node_modules" / ".bin" / "anvil"
    if not path.exists():
        raise AnvilError(f"anvil not found at {path}: run `npm ci` (or `make setup`), or set ANVIL")
    return str(path)


@dataclass
class Anvil:
    """A running anvil node."""

    url: str
    port: int
    process: subprocess.Popen
    output: collections.deque = field(repr=False)
    cache_path: Path | None = None  # where it persists old states; removed when it stops

    @property
    def chain_id(self) -> int:
        return DEV_CHAIN_ID


@contextmanager
def run_anvil(
    port: int = 0, *, hardfork: str | None = None, extra_args: Sequence[str] = ()
) -> Iterator[Anvil]:
    """Start anvil on 127.0.0.1 and stop it on exit.

    ``port=0`` lets the kernel pick a free port; the node's own "Listening on"
    line says which, so there is no race between choosing and binding a port.

    Past a few hundred blocks anvil persists old states on disk, by default
    under ``~/.foundry/anvil/tmp``, and never removes them: a long run (the
    dApp's tests, the bench) left 2.3 GB there each time, until the disk was
    full. They go to a directory of this run's own, removed when it stops.
    """
    args = [anvil_executable(), "--host", "127.0.0.1", "--port", str(port)]
    cache_path = Path(tempfile.mkdtemp(prefix="openkwh-anvil-"))
    args += ["--cache-path", str(cache_path)]
    if hardfork:
        args += ["--hardfork", hardfork]
    args += list(extra_args)
    process = subprocess.Popen(
        args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    # anvil logs every request; a reader thread keeps the pipe drained and the
    # last lines at hand for error messages.
    output: collections.deque[str] = collections.deque(maxlen=200)
    listening: queue.Queue[tuple[str, int] | None] = queue.Queue()

    def read() -> None:
        announced = False
        for line in process.stdout:
            output.append(line.rstrip())
            if not announced and (match := _LISTENING.search(line)):
                announced = True
                listening.put((match.group(1), int(match.group(2))))
        listening.put(None)

    threading.Thread(target=read, name="anvil-output", daemon=True).start()
    try:
        try:
            address = listening.get(timeout=STARTUP_TIMEOUT)
        except queue.Empty:
            address = None
        if address is None:
            tail = "\n".join(output)
            raise AnvilError(f"anvil did not start (exit code {process.poll()}):\n{tail}")
        host, bound_port = address
        yield Anvil(
            url=f"http://{host}:{bound_port}",
            port=bound_port,
            process=process,
            output=output,
            cache_path=cache_path,
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(cache_path, ignore_errors=True)
