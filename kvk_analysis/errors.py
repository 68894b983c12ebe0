"""Error types shared by every layer of kvk.

Every problem with user input is raised as :class:`InputError`, which names the file, the
row and the column and says what was expected.  The ``kvk`` command prints these as one
clear message (never a traceback) and exits with status 2.
"""

from __future__ import annotations

from pathlib import Path


class KvkError(Exception):
    """Base class for errors that the ``kvk`` command reports without a traceback."""


class InputError(KvkError, ValueError):
    """Bad input data: names the file, row and column and what was expected.

    Parameters
    ----------
    message
        What is wrong, in a sentence.
    path
        The input file (``None`` for in-memory data).
    row
        The row as a user finds it: the 1-based line number in a text file (header lines
        included), or the row number shown by the spreadsheet program for xlsx.
    column
        The column name as written in the file.
    expected
        What the value should have been, e.g. ``"a number between 0 and 100"``.
    found
        The offending value as read.
    """

    def __init__(
        self,
        message: str = "",
        *,
        path: str | Path | None = None,
        row: int | None = None,
        column: str | None = None,
        expected: str | None = None,
        found: object = None,
    ) -> None:
        self.path = str(path) if path is not None else None
        self.row = row
        self.column = column
        self.expected = expected
        self.found = found
        self.message = message
        super().__init__(self._render())

    def _render(self) -> str:
        where = []
        if self.path is not None:
            where.append(self.path)
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        head = ", ".join(where)
        what = ""
        if self.expected is not None:
            what = f"expected {self.expected}"
            if self.found is not None:
                what += f", found {self.found!r}"
        elif self.found is not None:
            what = f"found {self.found!r}"
        parts = [p for p in (head, what) if p]
        text = ": ".join(parts)
        if self.message:
            text = f"{text}. {self.message}" if text else self.message
        return text


class EstimationError(KvkError, ValueError):
    """An estimator cannot run on the data and arguments given (says why and what to change)."""


class ReportError(KvkError, RuntimeError):
    """A notebook or report failed to execute or render."""
