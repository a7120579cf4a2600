"""The national replay's bench (bench/scale.json), at a small scale: every key
issue 18 names, and gas measured as whole, cold transactions."""

import json

import pytest

from openkwh.bench import scale

KEYS = [
    "meters", "ingest_per_s", "tree_build_s", "publish_gas_per_measurement", "reveal_gas_hub",
    "reveal_gas_meter_signed", "reveal_gas_per_leaf_24", "reveal_gas_hub_floor",
    "reveal_gas_meter_signed_floor", "reveal_gas_per_leaf_24_floor", "proof_bytes",
    "proof_p95_ms", "sqlite_ingest_per_s", "postgres_ingest_per_s",
]  # fmt: skip


@pytest.mark.slow(seconds=60)
def test_scale_bench_writes_exactly_the_issue_keys(tmp_path, monkeypatch):
    monkeypatch.setattr(scale, "SIGNED", 200)
    monkeypatch.setattr(scale, "PROOF_SAMPLES", 50)
    out = tmp_path / "scale.json"
    figures = scale.run(meters=1_024, out=out, postgres=False)
    saved = json.loads(out.read_text())
    assert list(saved) == KEYS
    assert saved == figures
    assert saved["meters"] == 1_024
    assert saved["proof_bytes"] == 32 * 10  # 1,024 leaves: 10 hashes
    # the warm sets are reset before each measured call: publishing writes two fresh
    # slots cold, so the root costs more than 21,000 + 2 x 22,100
    assert saved["publish_gas_per_measurement"] * 1_024 > 21_000 + 2 * 22_100
    assert saved["reveal_gas_meter_signed"] > saved["reveal_gas_hub"] > 21_000 + 22_100
    # each reveal above its floor peer (the same leaf and proof in one contract), which
    # writes the fresh slot of each measurement
    for key in ("reveal_gas_hub", "reveal_gas_meter_signed", "reveal_gas_per_leaf_24"):
        assert saved[key] > saved[f"{key}_floor"] > 22_100
    assert saved["postgres_ingest_per_s"] is None
