"""Backups and restores of an office kept in PostgreSQL (KEFU_DB=postgresql://...), as kefu/backup.py does them for
the SQLite file: with PostgreSQL's own tools (Debian's postgresql-client: pg_dump, pg_restore, psql).

A backup is `pg_dump --format=custom`: one consistent snapshot while others write, written beside its final name,
checked (pg_restore reads the whole archive back) and only then renamed into place: complete or absent.

A restore checks the file first (a pg_dump archive, readable to its end, holding the Kefu Desk system tables, of a
format this version knows), keeps the current data aside as a backup of its own, and then replaces every table
in ONE transaction (psql --single-transaction, stopping at the first error): the current tables dropped, the
backup's made and filled. Any failure leaves the database as it was. Registers of the backup that the current
sheets cannot open without losing data are found by the migration that follows; the data kept aside is then put
back the same way and the restore refused.
"""
from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict, make_conninfo

DUMP_HEADER = b"PGDMP"
SUFFIX = ".dump"


class ToolError(Exception):
    """A PostgreSQL tool failed; its own message."""


def tool(name: str) -> str:
    """A PostgreSQL client program: the newest installed version's (pg_dump must not be older than the server),
    else the one on PATH."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4])
                   if p.split("/")[4].isdigit() else 0)
    if found:
        return found[-1]
    on_path = shutil.which(name)
    if on_path is None:
        raise ToolError(f"{name} is missing: install PostgreSQL's client programs (apt-get install postgresql-client)")
    return on_path


def _connection(url: str) -> tuple[str, dict]:
    """The URL as a connection string without its password, and the environment giving the password: never in a
    process list."""
    params = conninfo_to_dict(url)
    password = params.pop("password", None)
    env = {**os.environ}
    if password:
        env["PGPASSWORD"] = password
    return make_conninfo(**params), env


def _run(command: list[str], env: dict | None = None) -> str:
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise ToolError((done.stderr or done.stdout or f"exit {done.returncode}").strip())
    return done.stdout


def dump(url: str, target: Path) -> None:
    """pg_dump of the whole database into `target` (custom format), from one snapshot."""
    conninfo, env = _connection(url)
    _run([tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--file={target}",
          f"--dbname={conninfo}"], env)


def script(archive: Path, sql: Path) -> None:
    """The archive as the SQL that makes it again (its objects dropped first if they exist); pg_restore reads the
    archive to its end, so a damaged or cut-short one fails here."""
    _run([tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges", f"--file={sql}",
          str(archive)])


def tables_in(sql: Path) -> set[str]:
    """The tables an archive's script fills (COPY public.name ... FROM stdin)."""
    found = set()
    with open(sql, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            match = re.match(r'COPY (?:"?\w+"?\.)?"?([^"\s(]+)"? \(', line)
            if match:
                found.add(match.group(1))
    return found


def meta_value(sql: Path, key: str) -> str | None:
    """A kefu_meta value as the archive's script holds it (its COPY block, tab-separated)."""
    with open(sql, encoding="utf-8", errors="replace") as handle:
        inside = False
        for line in handle:
            if not inside:
                inside = bool(re.match(r'COPY (?:"?\w+"?\.)?"?kefu_meta"? \(', line))
                continue
            if line.startswith("\\."):
                return None
            fields = line.rstrip("\n").split("\t")
            if fields[0] == key:
                return fields[1] if len(fields) > 1 else None
    return None


def replace_with(url: str, sql: Path, current_tables: list[str]) -> None:
    """Every current table dropped and the script run, in one transaction that stops at the first error."""
    conninfo, env = _connection(url)
    with tempfile.NamedTemporaryFile("w", suffix=".sql", encoding="utf-8", delete=False,
                                     dir=sql.parent) as head:
        if current_tables:
            head.write("DROP TABLE IF EXISTS " + ", ".join('"' + t.replace('"', '""') + '"' for t in current_tables)
                       + " CASCADE;\n")
    try:
        _run([tool("psql"), "--no-psqlrc", "--quiet", "--single-transaction", "--set=ON_ERROR_STOP=1",
              f"--dbname={conninfo}", f"--file={head.name}", f"--file={sql}"], env)
    finally:
        os.unlink(head.name)
