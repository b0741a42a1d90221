"""The one exception type users see.

Every problem with a user's input (a file, a column, a coordinate, a standards
file) raises :class:`InputError` with a message that names the file or the
point, what is wrong and what to do. The command line prints the message alone,
without a traceback. Messages never contain member data beyond a member ID.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad input: the message says which file or point and how to fix it."""

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        #: Individual problems when one file had several (one line each).
        self.problems = list(problems or [])

    def __str__(self) -> str:
        head = super().__str__()
        if not self.problems:
            return head
        return "\n".join([head, *(f"  - {p}" for p in self.problems)])
