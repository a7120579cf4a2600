"""`meter-bridge probe`: what a meter sends, telegram by telegram, before it is registered.

It listens on a serial port for up to ``seconds`` (or until ``count`` lines),
decodes as the daemon would, and describes each telegram, or why it was
skipped, on a line of its own. Nothing is stored or signed: an installer runs
it to check a meter, its cable and its protocol.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator

from meter_bridge.protocols import Telegram

logger = logging.getLogger(__name__)


def describe(decoder, telegram: Telegram | None, skipped: str | None = None) -> dict:
    """The probe's JSON line for a telegram, or for a frame skipped for ``skipped``."""
    return {
        "protocol": telegram.protocol if telegram is not None else decoder.protocol,
        "meter": telegram.meter if telegram is not None else None,
        "import_wh": telegram.import_wh if telegram is not None else None,
        "export_wh": telegram.export_wh if telegram is not None else None,
        "skipped": skipped,
    }


def in_words(line: dict) -> str:
    """A probe line in plain words."""
    if line["skipped"] is not None:
        return f"{line['protocol'] or 'unknown protocol'}: telegram skipped ({line['skipped']})"
    exported = (
        "no export register" if line["export_wh"] is None else f"export {line['export_wh']:,} Wh"
    )
    return f"{line['protocol']} meter {line['meter']}: import {line['import_wh']:,} Wh, {exported}"


def listen(
    read: Callable[[], bytes],
    decoder,
    seconds: float,
    count: int | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[dict]:
    """Lines for what ``read`` returns, until ``seconds`` have passed or ``count`` lines."""
    deadline = clock() + seconds
    given = 0
    while clock() < deadline and (count is None or given < count):
        data = read()
        if not data:
            continue
        lines = []
        for telegram in decoder.feed(data):
            lines += _skipped(decoder)  # those skipped before this telegram came
            lines.append(describe(decoder, telegram))
        lines += _skipped(decoder)
        for line in lines:
            if count is not None and given >= count:
                return
            given += 1
            yield line


def _skipped(decoder) -> list[dict]:
    lines = []
    evidence = decoder.evidence
    while evidence:
        reason, _ = evidence.popleft()
        lines.append(describe(decoder, None, reason))
    return lines


def render(line: dict, as_json: bool) -> str:
    return json.dumps(line) if as_json else in_words(line)
