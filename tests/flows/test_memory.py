"""RELIABILITY 9: memory is bounded by the batch size, not by the size of the dump."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pipeline.ingest.demo import generate
from tests.conftest import copy_models, write_config

ROOT = Path(__file__).resolve().parents[2]
RUN = """import resource, sys
from flows.cli.main import main
rc = main(sys.argv[1:])
print("MAXRSS_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
sys.exit(rc)
"""


def peak_rss_mb(config: Path, dump: Path) -> float:
    res = subprocess.run([sys.executable, "-c", RUN, "--config", str(config), "rerun", str(dump)], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    line = next(x for x in res.stdout.splitlines() if x.startswith("MAXRSS_KB"))
    return int(line.split()[1]) / 1024


def test_ten_times_the_input_does_not_need_ten_times_the_memory(tmp_path, model_dir):
    sizes = {"1x": 100, "10x": 1000}  # batches of 100: one at 1x, ten at 10x
    peaks = {}
    for name, size in sizes.items():
        data = tmp_path / name / "data"
        copy_models(model_dir, data / "models")
        cfg = write_config(tmp_path / name / "config.yaml", data, run={"batch_size": 100, "discover_topics": 0})
        generate(data / "dump", size=size, seed=17)
        peaks[name] = peak_rss_mb(cfg, data / "dump")
    print(f"peak RSS: {peaks}")
    assert peaks["10x"] <= 1.5 * peaks["1x"] + 50, peaks
