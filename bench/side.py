"""The figures that decide when an office moves on (more workers, or PostgreSQL), gathered as the benchmark runs
and printed again at its end side by side: each table compares two columns (SQLite | PostgreSQL, or 1 worker |
N workers), one measure a row, each figure with the row count it was measured on."""
from __future__ import annotations

_TABLES: dict[tuple[str, str], dict[str, dict[str, str]]] = {}


def put(columns: tuple[str, str], measure: str, column: str, figure: str) -> None:
    _TABLES.setdefault(columns, {}).setdefault(measure, {})[column] = figure


def clear() -> None:
    _TABLES.clear()


def table(columns: tuple[str, str]) -> list[str]:
    rows = [("", *columns)] + [(measure, *(cells.get(c, "-") for c in columns))
                               for measure, cells in _TABLES.get(columns, {}).items()]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]


def show() -> None:
    if not _TABLES:
        return
    print("\nside by side:")
    for columns in _TABLES:
        print()
        for line in table(columns):
            print(line)
