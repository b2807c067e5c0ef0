"""Input path safety: every file a run reads must resolve inside an allowed root.

Roots are the working directory, the data directory and the config's ``input_roots``. Paths are
resolved (symlinks followed) *before* the check, so a link inside an allowed folder that points
outside (``landing/reviews/x.csv -> /etc/passwd``) is refused, as is anything that is not a
regular file (FIFOs, devices).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from configs import Settings


def allowed_roots(settings: Settings) -> list[Path]:
    return [Path.cwd().resolve(), Path(settings.data_dir).resolve(), *(Path(r).resolve() for r in settings.input_roots)]


def inside(path: Path, roots: list[Path]) -> bool:
    p = path.resolve()
    return any(p == r or r in p.parents for r in roots)


def refusal(path: Path, roots: list[Path]) -> str | None:
    """Why ``path`` may not be read, or None when it may."""
    try:
        st = os.stat(path)  # follows links: what would actually be read
    except OSError as exc:
        return f"{path}: cannot be read ({exc.strerror})"
    if not stat.S_ISREG(st.st_mode):
        return f"{path}: not a regular file; refused"
    if not inside(path, roots):
        target = path.resolve()
        return (f"{path}: resolves to {target}, outside the allowed input roots; refused "
                f"(add the folder to input_roots in the config if this is intended)")
    return None
