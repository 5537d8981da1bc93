"""Errors a user may see: each carries an i18n key and its parameters."""
from __future__ import annotations

from kefu.i18n import t


class KefuError(Exception):
    code = "err.denied"

    def __init__(self, code: str | None = None, **params):
        self.code = code or self.code
        self.params = params
        super().__init__(self.code if not params else f"{self.code} {params}")

    def message(self, lang: str) -> str:
        return t(self.code, lang, **self.params)


class PermissionDenied(KefuError):
    code = "err.denied"


class NotFound(KefuError):
    code = "err.not_found"


class StaleRecord(KefuError):
    """The record changed since the user's screen read it; saving would lose that change."""
    code = "err.stale"


class PeriodLocked(KefuError):
    """The record lies in a period whose incentive run is approved: it can no longer be changed."""
    code = "ic.record_locked"


class DatabaseUnavailable(KefuError):
    """The database cannot be used: a file that is not one, a wrong PostgreSQL URL, a server out of reach."""
    code = "err.db_open"


class DatabaseGone(DatabaseUnavailable):
    """The database went away during a request (server stopped or restarted, connection cut): what was being
    written was rolled back by the server, or, when the loss came during COMMIT and the server could not be asked
    what became of it (err.db_gone_commit), may have been saved. A write is never retried on its own; the user
    tries again once the database is back."""
    code = "err.db_gone"


class AuthError(KefuError):
    code = "auth.bad_login"


class LastAdmin(KefuError):
    """Refused: the change would leave no active administrator, so nobody could manage users any more."""
    code = "adm.last_admin"


class MigrationError(Exception):
    """The sheets ask for a change that would lose data; nothing was changed."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems
