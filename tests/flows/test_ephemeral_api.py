"""flows/ops.py ``ephemeral_api``: the temporary Prefect server a flow command starts when no
PREFECT_API_URL is set, with the server's code loaded only in its own process."""

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from flows.ops import ephemeral_api

ROOT = Path(__file__).resolve().parents[2]
CHILD = """
import json, sys, urllib.request
import flows
from flows.ops import ephemeral_api
from prefect import flow

@flow
def one():
    return 1

with ephemeral_api() as url:
    health = urllib.request.urlopen(url + "/health", timeout=5).status
    result = one()
    seen = __import__("os").environ.get("PREFECT_API_URL")
print(json.dumps({"url": url, "health": health, "result": result, "env_inside": seen,
                  "env_after": __import__("os").environ.get("PREFECT_API_URL"),
                  "server_code": sorted(m for m in ("prefect.server.api.server", "fastapi") if m in sys.modules)}))
"""


def test_a_flow_runs_against_the_temporary_server_which_is_gone_afterwards(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env["PREFECT_HOME"] = str(tmp_path / "prefect")  # its own database, as a fresh machine has
    res = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["url"].startswith("http://127.0.0.1:") and out["health"] == 200 and out["result"] == 1
    assert out["env_inside"] == out["url"] and out["env_after"] is None  # Dask workers inherit it, then it goes
    assert out["server_code"] == []  # FastAPI and the API routes stayed in the server's process
    with pytest.raises(OSError):
        urllib.request.urlopen(out["url"] + "/health", timeout=2)


def test_a_configured_api_url_is_left_to_prefect():
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        with ephemeral_api() as url:
            assert url is None
