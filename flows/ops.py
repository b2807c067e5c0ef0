"""Process hygiene around Prefect's ephemeral server.

Without PREFECT_API_URL, Prefect starts a temporary API server as a child process and stops it at
exit. A ``kill -9`` of Touchpoint skips that, and the server lives on as an orphan. Touchpoint
marks its own process with ``TOUCHPOINT_OWNER_PID`` (inherited by the server), and the next run
stops any server whose owner is gone. Linux only (reads /proc); elsewhere it does nothing.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

OWNER_ENV = "TOUCHPOINT_OWNER_PID"
_SERVER_MARK = b"prefect.server.api.server"


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
