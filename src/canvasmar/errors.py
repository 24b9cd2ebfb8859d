"""The one exception type for mistakes a user can fix (bad config, bad file, bad shape).

The CLI prints its message on one line and exits non-zero; anything else is a bug and keeps
its traceback.
"""


class UserError(Exception):
    """A problem with the user's input; the message names it and says what to do."""
