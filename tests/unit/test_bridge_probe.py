"""`meter-bridge probe`: one line per telegram from a real pseudo-terminal; nothing stored."""

import json
import os
import select
import subprocess
import sys
import tty
from pathlib import Path

import pytest

from meter_bridge.probe import in_words, listen
from meter_bridge.protocols import decoder
from tests.fixtures import captures, crafted

ROOT = Path(__file__).resolve().parents[2]


def read_line(stream, timeout: float = 60) -> bytes:
    """One line from a child's pipe; ``timeout`` only guards against a hung child."""
    line = b""
    while not line.endswith(b"\n"):
        ready, _, _ = select.select([stream], [], [], timeout)
        assert ready, f"no line from the probe; so far {line!r}"
        chunk = os.read(stream.fileno(), 1)
        assert chunk, f"the probe exited; so far {line!r}"
        line += chunk
    return line


@pytest.mark.parametrize(
    ("data", "protocol", "expected"),
    [
        (
            captures.SAGEMCOM_T210_D_R
            + crafted.dsmr("-000100.000*kWh")
            + captures.SAGEMCOM_T210_D_R,
            "auto",
            [
                {
                    "protocol": "sagemcom-t210-d-r",
                    "meter": "EST5\\253710000_A",
                    "import_wh": 5_017_120 + 1_528_646,
                    "export_wh": 58,
                    "skipped": None,
                },
                {
                    "protocol": "sagemcom-t210-d-r",
                    "meter": None,
                    "import_wh": None,
                    "export_wh": None,
                    "skipped": "negative register",
                },
                {
                    "protocol": "sagemcom-t210-d-r",
                    "meter": "EST5\\253710000_A",
                    "import_wh": 5_017_120 + 1_528_646,
                    "export_wh": 58,
                    "skipped": None,
                },
            ],
        ),
        (
            captures.SML_ISKRA_GET_OBIS_FAILS,
            "sml",
            [
                {
                    "protocol": "sml",
                    "meter": "080535342d510177",
                    "import_wh": 0x0B190A86 // 10,
                    "export_wh": None,
                    "skipped": None,
                }
            ],
        ),
    ],
)
def test_probe_prints_a_json_line_per_telegram_over_a_pseudo_terminal(
    tmp_path, data, protocol, expected
):
    leader, follower = os.openpty()
    tty.setraw(follower)
    command = [sys.executable, "-m", "meter_bridge.cli", "probe", "--port", os.ttyname(follower)]
    command += ["--protocol", protocol, "--json", "--count", str(len(expected))]
    probe = subprocess.Popen(
        command,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    try:
        assert b"serial port" in read_line(probe.stderr)
        os.write(leader, data)
        lines = [json.loads(read_line(probe.stdout)) for _ in expected]
        assert probe.wait(timeout=60) == 0
    finally:
        if probe.poll() is None:
            probe.kill()
            probe.wait()
        os.close(leader)
        os.close(follower)
    assert lines == expected
    assert list(tmp_path.iterdir()) == []  # nothing stored


def test_probe_stops_after_its_time_and_says_what_it_read():
    ticks = iter(range(100))
    chunks = iter([b"", captures.ISKRA_V5, b""] + [b""] * 100)
    lines = list(listen(lambda: next(chunks), decoder("auto"), 5, clock=lambda: next(ticks)))
    assert [in_words(line) for line in lines] == [
        "dsmr5 meter ISk5\\2MT382-1000: import 6,825 Wh, export 2,444 Wh"
    ]
    assert (
        in_words(
            {
                "protocol": "q3d",
                "meter": "ESY5Q3DA1004 V3.04",
                "import_wh": 1,
                "export_wh": None,
                "skipped": None,
            }
        )
        == "q3d meter ESY5Q3DA1004 V3.04: import 1 Wh, no export register"
    )
