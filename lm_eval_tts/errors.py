"""One exception type for mistakes a user can fix, so front ends print one line instead of a traceback."""


class UserError(ValueError):
    """Bad user input: the message names the argument/file/problem and what would fix it."""
