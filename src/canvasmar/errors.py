"""The one exception type for mistakes a user can fix (bad config, bad file, bad shape).

The CLI prints its message on one line and exits non-zero; anything else is a bug and keeps
its traceback.
"""


class UserError(Exception):
    """A problem with the user's input; the message names it and says what to do."""


def require_extra(module: str, extra: str, purpose: str) -> None:
    """Raise a UserError naming the pip extra when an optional dependency is missing, so that
    a plain `pip install canvasmar` (what `make demo` installs) fails in one readable line."""
    import importlib.util

    try:
        found = importlib.util.find_spec(module) is not None
    except ImportError:  # a parent package missing, or an import hook refusing it
        found = False
    if not found:
        raise UserError(f"{purpose} needs the '{extra}' extra ({module} is not installed): "
                        f"pip install 'canvasmar[{extra}]' (or run 'make setup')")
