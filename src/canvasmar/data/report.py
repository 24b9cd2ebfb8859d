"""Say once per process that a file was skipped and why (logging, so library users can mute
it; the default handler prints warnings to stderr)."""

from __future__ import annotations

import logging

log = logging.getLogger("canvasmar.data")
_reported: set[str] = set()


def report_skip(path: str, reason: str) -> bool:
    """Warn 'skipping PATH: REASON' the first time PATH is reported; True if it was printed."""
    if path in _reported:
        return False
    _reported.add(path)
    log.warning("skipping %s: %s", path, reason)
    return True
