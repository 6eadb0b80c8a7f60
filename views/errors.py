"""Errors of the read models (the ledger's tree, ledger/errors.py, extended).

::

    MinutebookError
    ├── InvalidInput(field, rule)        400
    │   └── QueryTooLarge(message)       400  field "path": the question would read too much
    └── QueryTimedOut                    503  the query ran past its deadline (a busy node): retry

A query is bounded by the keys it may read and by a deadline
(``views.projection.Reader``), so a question can never hold a node's reader
threads for long.
"""

from __future__ import annotations

from ledger.errors import InvalidInput, MinutebookError

__all__ = ["QueryTooLarge", "QueryTimedOut"]


class QueryTooLarge(InvalidInput):
    def __init__(self, message: str, field: str = "path") -> None:
        super().__init__(field, message)


class QueryTimedOut(MinutebookError):
    http_status = 503
    code = "busy"

    def __init__(self, message: str = "the query ran out of time on a busy node; retry shortly",
                 retry_after: float = 2.0) -> None:
        self.retry_after = retry_after
        super().__init__(message)
