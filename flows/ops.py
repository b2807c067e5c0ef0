"""Process hygiene around Prefect's ephemeral server.

Without PREFECT_API_URL, Prefect starts a temporary API server as a child process and stops it at
exit. A ``kill -9`` of Touchpoint skips that, and the server lives on as an orphan. Touchpoint
marks its own process with ``TOUCHPOINT_OWNER_PID`` (inherited by the server), and the next run
stops any server whose owner is gone. Linux only (reads /proc); elsewhere it does nothing.
``ephemeral_api`` starts that server itself, so the run's own process never loads the server's code.
Also the checks a run makes before anything starts (`require_models`).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

OWNER_ENV = "TOUCHPOINT_OWNER_PID"
_SERVER_MARK = b"prefect.server.api.server"


def peak_rss_mb() -> float:
    """This process's peak resident memory in MiB since it started its program: VmHWM from /proc (Linux).
    ``getrusage(RUSAGE_SELF).ru_maxrss`` is not that: Linux carries the parent's peak over fork and exec,
    so a command started by a 2.5 GB test worker reports 2.5 GB whatever it does itself. Elsewhere
    (no /proc) it falls back to ru_maxrss, with that caveat."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


def mark_owner() -> None:
    os.environ[OWNER_ENV] = str(os.getpid())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def orphaned_servers(proc: Path = Path("/proc")) -> list[int]:
    """PIDs of ephemeral Prefect servers started by a Touchpoint process that no longer exists."""
    found = []
    if not proc.is_dir():
        return found
    for d in proc.iterdir():
        if not d.name.isdigit():
            continue
        try:
            if _SERVER_MARK not in (d / "cmdline").read_bytes():
                continue
            env = (d / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        owner = next((e.split(b"=", 1)[1] for e in env if e.startswith(OWNER_ENV.encode() + b"=")), None)
        if owner and owner.isdigit() and int(owner) != os.getpid() and not _alive(int(owner)):
            found.append(int(d.name))
    return found


def reap_orphaned_servers() -> list[int]:
    """Stop orphaned ephemeral servers (SIGTERM); returns their PIDs."""
    pids = orphaned_servers()
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    return pids


@contextmanager
def ephemeral_api() -> Iterator[str | None]:
    """A temporary Prefect API server for the flows run inside the block, when no PREFECT_API_URL is set.

    Prefect would start the same server itself (a uvicorn child on 127.0.0.1), but to do so its client
    imports the whole server application (FastAPI, SQLAlchemy, the API routes: ~80 MB of a run's peak
    memory, bench/RESULTS.md "Peak memory"). Started here, the server's code is loaded only in the
    child, whose command line and environment are the ones Prefect gives it (so ``orphaned_servers``
    finds it after a ``kill -9``), and the flows see an ordinary API URL; child processes (Dask workers)
    inherit it. Yields the URL, or None when one was configured (or ephemeral mode is off): then
    Prefect does what it always does."""
    import prefect
    from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

    settings = get_current_settings()
    if settings.api.url or not settings.server.ephemeral.enabled:
        yield None
        return
    env = {**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1",
           **settings.to_environment_variables(exclude_unset=True)}
    proc, url = _start_server(env, str(Path(prefect.__file__).parent.parent),
                              float(settings.server.ephemeral.startup_timeout_seconds))
    saved = os.environ.get("PREFECT_API_URL")
    os.environ["PREFECT_API_URL"] = url
    try:
        with temporary_settings(updates={PREFECT_API_URL: url}):
            yield url
    finally:
        _drain_workers()  # the run's last logs and events reach the server before it stops
        if saved is None:
            os.environ.pop("PREFECT_API_URL", None)
        else:
            os.environ["PREFECT_API_URL"] = saved
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _drain_workers(timeout_s: float = 10.0) -> None:
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        try:
            worker.drain_all(timeout=timeout_s)
        except Exception:  # noqa: BLE001 - best effort: the run itself is already recorded
            pass


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (the servers Touchpoint and its tests start)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(env: dict[str, str], app_dir: str, timeout_s: float) -> tuple[subprocess.Popen, str]:
    """Prefect's API under uvicorn on a free 127.0.0.1 port, once it answers its health check."""
    for _ in range(3):  # exit code 3: the port was taken between choosing and binding it
        port = free_port()
        log = tempfile.TemporaryFile()
        proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "--app-dir", app_dir, "--factory",
                                 "prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(port),
                                 "--log-level", "error", "--lifespan", "on"],
                                env=env, stdout=subprocess.DEVNULL, stderr=log)
        url = f"http://127.0.0.1:{port}/api"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                    if r.status == 200:
                        log.close()
                        return proc, url
            except OSError:
                pass
            time.sleep(0.1)
        if proc.poll() == 3:
            log.close()
            continue
        proc.kill()
        proc.wait()
        log.seek(0)
        tail = log.read()[-2000:].decode("utf-8", "replace").strip()
        log.close()
        raise RuntimeError(f"the temporary Prefect API server did not start in {timeout_s:.0f} s"
                           f" (exit code {proc.returncode}){': ' + tail if tail else ''}")
    raise RuntimeError("the temporary Prefect API server found no free port on 127.0.0.1 in three tries")


def require_models(settings) -> None:
    """A run needs the configured sentiment and topic models in the data dir: say how to build them."""
    from models.training.train import models_ready
    from pipeline.errors import TouchpointError

    if not models_ready(settings):
        raise TouchpointError(f"no models in {Path(settings.data_dir) / 'models'}; run `touchpoint models build` first")
