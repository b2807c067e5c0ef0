"""Output safety: text printed to a terminal and cells written to CSV for spreadsheets.

- Terminal: customer text can carry escape sequences (ESC [ ... ) that rewrite the operator's
  screen or title bar; every C0/C1 control character except newline and tab is removed.
- CSV: a cell starting with ``= + - @`` (or tab / carriage return) is run as a formula by Excel,
  LibreOffice and Google Sheets (CSV injection); such cells get a leading apostrophe (OWASP advice).
"""

from __future__ import annotations

import re
from typing import Any

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def terminal_safe(text: str) -> str:
    """``text`` without control characters (escape sequences lose their ESC and become inert)."""
    return _CONTROL.sub("", text)


def neutralize_cell(value: Any) -> Any:
    """A CSV cell that a spreadsheet will not execute; non-strings pass through."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value
