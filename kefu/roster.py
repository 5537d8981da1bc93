"""The duty roster's rule of six days on and one off (做六休一): a staff member scheduled for more working
days in a row than office.toml [roster] days_in_a_row is flagged on the roster's screen (schema/roster.toml
`notices`). A warning, not a refusal: a supervisor may cover a gap knowingly. A change of the roster moves
the due times of open tickets where the SLA clock follows it (changed)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from kefu import auth
from kefu.sheets import Notice

REST = "rest"
LOOK_BACK_DAYS = 14      # a run that began up to this long ago and goes on today is found
LOOK_AHEAD_DAYS = 62     # the roster planned this far ahead is checked


@dataclass(frozen=True)
class Run:
    staff: int
    first: date
    last: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


def working_runs(store, since: date, until: date) -> list[Run]:
    """Each staff member's stretches of consecutive scheduled working days (a shift that is not a rest day)
    between `since` and `until`, in date order per person."""
    rows = store.conn.execute(
        "SELECT staff, duty_date FROM roster WHERE duty_date BETWEEN ? AND ? AND shift != ? AND deleted_at IS NULL "
        "ORDER BY staff, duty_date", (since.isoformat(), until.isoformat(), REST)).fetchall()
    runs: list[Run] = []
    for staff, day in rows:
        day = date.fromisoformat(day)
        last = runs[-1] if runs else None
        if last and last.staff == staff and day - last.last == timedelta(days=1):
            runs[-1] = Run(staff, last.first, day)
        elif not (last and last.staff == staff and day == last.last):
            runs.append(Run(staff, day, day))
    return runs


def too_long(store, *, today: date | None = None) -> list[Run]:
    """The runs longer than the office allows that go on today or later."""
    today = today or datetime.now(store.settings.tz).date()
    limit = store.settings.roster_days_in_a_row
    runs = working_runs(store, today - timedelta(days=LOOK_BACK_DAYS), today + timedelta(days=LOOK_AHEAD_DAYS))
    return [r for r in runs if r.days > limit and r.last >= today]


def changed(store, actor, changes) -> None:
    """A roster write (schema/roster.toml `on_change`): where the SLA clock follows the roster, the open
    tickets whose clock runs over a day written get the due times the roster now gives (kefu/tickets.py)."""
    from kefu import tickets
    days = {date.fromisoformat(str(row["duty_date"])[:10]) for pair in changes for row in pair
            if row is not None and row.get("duty_date")}
    tickets.retime_to_roster(store, actor, days)


def notices(store, actor, *, today: date | None = None) -> list[Notice]:
    """What the roster's screen warns about, for whoever may read the roster."""
    sheet = store.sheets.get("roster")
    if sheet is None or not auth.can(actor, sheet, "read"):
        return []
    names = dict(store.active_users())
    return [Notice("roster.too_long", {"name": names.get(r.staff, f"#{r.staff}"), "days": r.days,
                                       "first": r.first.isoformat(), "last": r.last.isoformat(),
                                       "limit": store.settings.roster_days_in_a_row})
            for r in too_long(store, today=today)]
