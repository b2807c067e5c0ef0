"""RELIABILITY 9: memory is bounded by the batch size, not by the size of the dump."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pipeline.ingest.demo import generate
from tests.conftest import copy_models, write_config

ROOT = Path(__file__).resolve().parents[2]
RUN = """import sys
from flows.cli.main import main
from flows.ops import peak_rss_mb
rc = main(sys.argv[1:])
print("PEAK_RSS_MB", peak_rss_mb())
sys.exit(rc)
"""


def peak_rss_mb(config: Path, dump: Path, api_url: str) -> float:
    """The command's own peak (its Prefect server is the test's, a process of its own either way)."""
    res = subprocess.run([sys.executable, "-c", RUN, "--config", str(config), "rerun", str(dump)], cwd=ROOT,
                         capture_output=True, text=True, timeout=600, env={**os.environ, "PREFECT_API_URL": api_url})
    assert res.returncode == 0, res.stderr[-2000:]
    line = next(x for x in res.stdout.splitlines() if x.startswith("PEAK_RSS_MB"))
    return float(line.split()[1])


def test_ten_times_the_input_does_not_need_ten_times_the_memory(tmp_path, model_dir, prefect_harness):
    sizes = {"1x": 100, "10x": 1000}  # batches of 100: one at 1x, ten at 10x
    peaks = {}
    for name, size in sizes.items():
        data = tmp_path / name / "data"
        copy_models(model_dir, data / "models")
        cfg = write_config(tmp_path / name / "config.yaml", data, run={"batch_size": 100, "discover_topics": 0})
        generate(data / "dump", size=size, seed=17)
        peaks[name] = peak_rss_mb(cfg, data / "dump", prefect_harness)
    print(f"peak RSS: {peaks}")
    assert peaks["1x"] >= 150, peaks  # the command's own peak: at least its encoder and heads are in it
    assert peaks["10x"] <= 1.5 * peaks["1x"] + 50, peaks
