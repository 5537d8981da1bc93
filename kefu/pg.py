"""PostgreSQL as the second store (KEFU_DB=postgresql://...): one connection per thread that speaks the engine's
SQL, which is written once, for SQLite.

The dialect seam is psycopg 3 plus sqlglot: each distinct statement is parsed as SQLite SQL, the few SQLite
idioms the engine uses are rewritten (below: INSERT OR REPLACE/IGNORE, total(), GLOB, json_each, date
modifiers, strftime('%w'), sum of a comparison, INTEGER PRIMARY KEY), and the statement is written out as
PostgreSQL, once, then cached. So the ~300 statements of kefu/ stay one text read by both stores, and what
differs between the engines (a search index, a table's columns) is asked of the store's dialect, not hidden
here. Types keep SQLite's meaning: INTEGER is BIGINT (ids, money in fen), REAL is DOUBLE PRECISION, TEXT
holds times as ISO text with their offset, so a copied office is the same to the fen and the second.

A write transaction (`BEGIN IMMEDIATE` in SQLite, one writer at a time) takes one transaction-scoped
advisory lock: writers queue as they do on SQLite, readers never wait, and every read-check-write the
engine does inside a transaction stays as safe as it is on SQLite.
"""
from __future__ import annotations

import itertools
import re
from functools import lru_cache

import psycopg
import psycopg.types.numeric
import sqlglot
from psycopg.pq import TransactionStatus
from sqlglot import exp

from kefu import config
from kefu.errors import DatabaseUnavailable

Error = psycopg.Error
WRITE_LOCK = 0x6B656675          # "kefu": the advisory lock every write transaction holds until it ends
# What the engine needs in a PostgreSQL database beside its tables (made by migrate, checked at connect)
SUPPORT_DDL = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    # SQLite's COLLATE NOCASE (user names): equal whatever the case, as a unique index sees it too
    "DO $$ BEGIN CREATE COLLATION nocase (provider = icu, locale = 'und-u-ks-level2', deterministic = false); "
    "EXCEPTION WHEN duplicate_object THEN NULL; END $$",
    # SQLite's GLOB, as the engine uses it ('KH[0-9]*'): * any run, ? one character, [...] a class
    "CREATE OR REPLACE FUNCTION kefu_glob(value text, pattern text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $f$ "
    "SELECT value ~ ('^' || replace(replace(regexp_replace(pattern, '([.+^$(){}|\\\\])', '\\\\\\1', 'g'), "
    "'*', '.*'), '?', '.') || '$') $f$",
)


def is_url(target) -> bool:
    return isinstance(target, str) and target.startswith(config.DB_URL_SCHEMES)


class _SqliteNumbers(psycopg.types.numeric.NumericLoader):
    """numeric as SQLite gives it: a whole number (a sum of fen, a count) as int, any other as float (avg)."""

    def load(self, data):
        text = bytes(data)
        return int(text) if text.lstrip(b"-").isdigit() else float(text)


class Cursor:
    """What the engine reads of a sqlite3 cursor: rows as tuples, description, rowcount, lastrowid."""

    def __init__(self, cursor: psycopg.Cursor, returning: bool):
        self._cursor = cursor
        self.lastrowid = None
        if returning:
            row = cursor.fetchone()
            self.lastrowid = row[0] if row else None
        self.rowcount = cursor.rowcount

    @property
    def description(self):
        return self._cursor.description

    def fetchone(self):
        return self._cursor.fetchone() if self._cursor.description else None

    def fetchall(self):
        return self._cursor.fetchall() if self._cursor.description else []

    def __iter__(self):
        return iter(self.fetchall())


class Connection:
    """A psycopg connection in autocommit mode (the store opens its transactions itself, as on SQLite)."""

    def __init__(self, url: str):
        try:
            self.raw = psycopg.connect(url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise DatabaseUnavailable(detail=f"{_safe(url)}: {exc}".strip()) from exc
        self.raw.adapters.register_loader("numeric", _SqliteNumbers)
        self._ids: dict[str, bool] = {}
        self._keys: dict[str, list[str]] = {}

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != TransactionStatus.IDLE

    def close(self) -> None:
        self.raw.close()

    def execute(self, sql: str, params=()) -> Cursor:
        head = sql.lstrip()[:20].upper()
        if head.startswith("BEGIN"):
            self.raw.execute("BEGIN")
            if "IMMEDIATE" in head:
                self.raw.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            return Cursor(self.raw.cursor(), False)
        if head.startswith(("COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")):
            self.raw.execute(sql)
            return Cursor(self.raw.cursor(), False)
        if head.startswith("PRAGMA"):
            return self._pragma(sql)
        text, insert_into, replace, order = translate(sql)
        if replace:
            text = self._upsert(text, insert_into)
        if order is not None:
            params = [params[i] for i in order]
        returning = bool(insert_into) and self._has_id(insert_into) and " RETURNING " not in text.upper()
        if returning:
            text += " RETURNING id"
        cursor = self.raw.cursor()
        cursor.execute(text, _params(params))
        return Cursor(cursor, returning)

    def native(self, sql: str, params=None):
        """A statement written for PostgreSQL, run as it is."""
        return self.raw.execute(sql, params)

    def executemany(self, sql: str, rows) -> None:
        text, insert_into, replace, order = translate(sql)
        if replace:
            text = self._upsert(text, insert_into)
        if order is not None:
            rows = ([r[i] for i in order] for r in rows)
        with self.raw.cursor() as cursor:
            cursor.executemany(text, [_params(r) for r in rows])

    # -- what SQLite answers by PRAGMA -------------------------------------------------------------
    def _pragma(self, sql: str) -> Cursor:
        match = re.fullmatch(r"\s*PRAGMA\s+table_info\((.+)\)\s*", sql, re.I)
        cursor = self.raw.cursor()
        if match:
            table = match.group(1).strip().strip('"').replace('""', '"')
            cursor.execute(
                "SELECT ordinal_position - 1, column_name, CASE data_type WHEN 'bigint' THEN 'INTEGER' "
                "WHEN 'integer' THEN 'INTEGER' WHEN 'double precision' THEN 'REAL' WHEN 'text' THEN 'TEXT' "
                "ELSE upper(data_type) END, (is_nullable = 'NO')::int, column_default, 0 "
                "FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = %s "
                "ORDER BY ordinal_position", (table,))
            return Cursor(cursor, False)
        # the tuning SQLite needs (WAL, checkpoints, foreign keys, busy wait) is PostgreSQL's own default
        cursor.execute("SELECT 1 WHERE false")
        return Cursor(cursor, False)

    def _has_id(self, table: str) -> bool:
        if table not in self._ids:
            self._ids[table] = self.raw.execute(
                "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() "
                "AND table_name = %s AND column_name = 'id'", (table,)).fetchone() is not None
        return self._ids[table]

    def _upsert(self, text: str, table: str) -> str:
        """INSERT OR REPLACE: the row replaces the one with its primary key."""
        if table not in self._keys:
            self._keys[table] = [r[0] for r in self.raw.execute(
                "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s::regclass AND i.indisprimary",
                (f'"{table}"',)).fetchall()]
        keys = self._keys[table]
        columns = re.search(r"\(([^)]*)\)\s*VALUES", text, re.I).group(1)
        names = [c.strip().strip('"') for c in columns.split(",")]
        sets = ", ".join(f'"{n}" = EXCLUDED."{n}"' for n in names if n not in keys)
        target = ", ".join(f'"{k}"' for k in keys)
        return f"{text} ON CONFLICT ({target}) DO " + (f"UPDATE SET {sets}" if sets else "NOTHING")


def _params(params):
    if isinstance(params, dict):
        return params
    return [int(p) if isinstance(p, bool) else p for p in params]     # True as 1: flags are INTEGER columns


def _safe(url: str) -> str:
    """The URL without its password, for a message."""
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


def shown(url: str) -> str:
    """A database URL as the command line and the screens may show it: without its password."""
    return _safe(url)


# -- SQLite SQL to PostgreSQL --------------------------------------------------------------------------
_NUMBERED = re.compile(r"\?(\d+)")
_MARKED = re.compile(r"\x00p(\d+)\x00")


@lru_cache(maxsize=4096)
def translate(sql: str) -> tuple[str, str | None, bool, tuple[int, ...] | None]:
    """(PostgreSQL text with %s parameters, the table an INSERT writes or None, whether it is INSERT OR REPLACE,
    the parameter order when SQLite's numbered ?1 ?2 were used, else None)."""
    numbered = bool(_NUMBERED.search(sql))
    tree = sqlglot.parse_one(_NUMBERED.sub(r":p\1", sql) if numbered else sql, read="sqlite")
    insert_into, replace = None, False
    if isinstance(tree, exp.Insert):
        insert_into = tree.this.this.name if isinstance(tree.this, exp.Schema) else tree.this.name
        alternative = (tree.args.get("alternative") or "").upper()
        replace = alternative == "REPLACE"
        tree.set("alternative", None)
        if alternative == "IGNORE":
            tree.set("conflict", exp.OnConflict(duplicate=False, action=exp.var("DO NOTHING")))
    for node in reversed(list(tree.walk(bfs=False))):      # each node after its children: all get rewritten
        rewritten = _rewrite(node)
        if rewritten is not node:
            if node is tree:
                tree = rewritten
            else:
                node.replace(rewritten)
    plain = itertools.count(1)
    for placeholder in list(tree.find_all(exp.Placeholder)):
        name = placeholder.name
        number = int(name[1:]) if numbered and name.startswith("p") and name[1:].isdigit() else next(plain)
        placeholder.replace(exp.Var(this=f"\x00p{number}\x00"))
    text = tree.sql(dialect="postgres").replace("%", "%%")
    order = tuple(int(m) - 1 for m in _MARKED.findall(text)) if numbered else None
    return _MARKED.sub("%s", text), insert_into, replace, order


def _boolean(node: exp.Expression) -> exp.Expression:
    """An operand SQLite takes as true or false: a number literal or a flag column (INTEGER) in PostgreSQL."""
    inner = node.unnest() if isinstance(node, exp.Paren) else node
    if isinstance(inner, (exp.Predicate, exp.Connector, exp.Not, exp.Boolean, exp.Exists)) or (
            isinstance(inner, exp.Anonymous) and inner.name.lower() == "kefu_glob"):
        return node
    if isinstance(inner, exp.Literal) and not inner.is_string:
        return exp.Boolean(this=inner.name not in ("0", "0.0"))
    return exp.NEQ(this=node, expression=exp.Literal.number(0))       # a flag column, COALESCE(flag, 0), ...


def _rewrite(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.ColumnDef):
        kind = node.args.get("kind")
        constraints = node.args.get("constraints") or []
        if kind is not None and kind.this in (exp.DataType.Type.INT, exp.DataType.Type.BIGINT):
            node.set("kind", exp.DataType.build("BIGINT"))
            if any(isinstance(c.args.get("kind"), exp.PrimaryKeyColumnConstraint) for c in constraints):
                node.set("constraints", [exp.ColumnConstraint(kind=exp.GeneratedAsIdentityColumnConstraint(this=False)),
                                         *constraints])
        return node
    if isinstance(node, exp.Anonymous):
        name = node.name.lower()
        args = node.expressions
        if name == "total":                                   # a sum that is 0.0 over no rows
            return exp.func("COALESCE", exp.Sum(this=args[0]), exp.Literal.number("0.0"))
        if name == "json_each":                               # the engine reads its `value` column
            return exp.Anonymous(this="json_array_elements_text",
                                 expressions=[exp.Cast(this=args[0], to=exp.DataType.build("JSON"))])
        if name == "date" and len(args) == 2:                 # date(x, '+N day')
            days = int(re.fullmatch(r"\s*([+-]?\d+) days?\s*", args[1].name).group(1))
            moved = exp.Add(this=exp.Cast(this=args[0], to=exp.DataType.build("DATE")), expression=exp.Literal.number(days))
            return exp.func("TO_CHAR", moved, exp.Literal.string("YYYY-MM-DD"))
    if isinstance(node, exp.Subquery) and not node.alias and isinstance(node.parent, (exp.From, exp.Join)):
        node.set("alias", exp.TableAlias(this=exp.to_identifier("kefu_from")))      # PostgreSQL names each one
        return node
    if isinstance(node, (exp.EQ, exp.NEQ)) and isinstance(node.this, exp.Column) \
            and isinstance(node.expression, exp.Literal) and node.expression.is_string and node.expression.name == "":
        # "holds a value" is asked of a column of any type: SQLite compares a number with '', PostgreSQL casts
        return node.__class__(this=exp.Cast(this=node.this, to=exp.DataType.build("TEXT")), expression=node.expression)
    if isinstance(node, exp.Column) and node.name.lower() == "rowid":        # SQLite's alias of the id
        node.set("this", exp.to_identifier("id"))
        return node
    if isinstance(node, (exp.And, exp.Or)):
        return node.__class__(this=_boolean(node.this), expression=_boolean(node.expression))
    if isinstance(node, exp.Not):
        return exp.Not(this=_boolean(node.this))
    if isinstance(node, exp.Where):
        return exp.Where(this=_boolean(node.this))
    if isinstance(node, exp.Glob):
        return exp.Anonymous(this="kefu_glob", expressions=[node.this, node.expression])
    if isinstance(node, exp.TimeToStr) and node.args.get("format") and node.args["format"].name == "%w":
        day = exp.Cast(this=exp.Extract(this=exp.var("DOW"), expression=exp.Cast(
            this=node.this, to=exp.DataType.build("TIMESTAMP"))), to=exp.DataType.build("INT"))
        return exp.Cast(this=day, to=exp.DataType.build("TEXT"))
    if isinstance(node, exp.Sum) and isinstance(node.this, (exp.Predicate, exp.Connector, exp.Not)):
        return exp.Sum(this=exp.Cast(this=node.this, to=exp.DataType.build("INT")))
    if isinstance(node, exp.Ordered) and isinstance(node.parent, exp.OnConflict):
        # ON CONFLICT(key): sqlglot reads the key as an ordering and would write NULLS FIRST, refused there
        return node.this
    if isinstance(node, exp.Collate) and node.expression.name.upper() == "NOCASE":
        node.set("expression", exp.column("nocase", quoted=True))
    return node



# -- search: pg_trgm in place of SQLite's two FTS5 indexes ----------------------------------------------
def sync_search(conn: Connection, sheet_name: str, columns: list[str], grams_of) -> bool:
    """Make a sheet's search indexes match its searched columns: a trigram (GIN) index per column for
    substrings of three characters and more, and a `<sheet>_grams` table of short grams (kefu.pinyin
    short_grams) with its own trigram index for one- and two-character searches. Returns whether the
    column set changed (then the grams were rebuilt from every row)."""
    key = f"fts:{sheet_name}"
    wanted = ",".join(columns)
    row = conn.raw.execute("SELECT value FROM kefu_meta WHERE key = %s", (key,)).fetchone()
    if row and row[0] == wanted:
        return False
    prefix = f"idx_{sheet_name}__trgm_"
    for (index,) in conn.raw.execute("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
                                     "AND tablename = %s AND starts_with(indexname, %s)", (sheet_name, prefix)).fetchall():
        conn.raw.execute(f"DROP INDEX {_ident(index)}")
    grams = _ident(f"{sheet_name}_grams")
    conn.raw.execute(f"DROP TABLE IF EXISTS {grams}")
    if columns:
        for column in columns:
            conn.raw.execute(f"CREATE INDEX {_ident(prefix + column)} ON {_ident(sheet_name)} "
                             f"USING gin ({_ident(column)} gin_trgm_ops)")
        conn.raw.execute(f"CREATE TABLE {grams} (id BIGINT PRIMARY KEY, grams TEXT NOT NULL)")
        conn.raw.execute(f"CREATE INDEX {_ident(sheet_name + '_grams_trgm')} ON {grams} USING gin (grams gin_trgm_ops)")
        rows = conn.raw.execute(f"SELECT id, {', '.join(_ident(c) for c in columns)} FROM {_ident(sheet_name)}").fetchall()
        with conn.raw.cursor() as cursor:
            cursor.executemany(f"INSERT INTO {grams} (id, grams) VALUES (%s, %s)", [(r[0], grams_of(r[1:])) for r in rows])
    conn.raw.execute("INSERT INTO kefu_meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = "
                     "EXCLUDED.value", (key, wanted))
    return True


def search_clauses(sheet_name: str, columns: list[str], terms: list[str], *, cjk) -> list[tuple[str, list]]:
    """One condition per term, as SQLite's indexes answer it: a term of three characters or more is a
    substring of a searched column (any case); a shorter Chinese one is one of the record's characters or
    pairs; a shorter Latin word or number begins one of its words; anything else is a plain substring."""
    grams = _ident(f"{sheet_name}_grams")
    clauses = []
    for term in terms:
        lowered = term.lower()
        pattern = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        if len(term) >= 3 or not (cjk(lowered) or (lowered.isascii() and lowered.isalnum())):
            clauses.append(("(" + " OR ".join(f"{_ident(c)} ILIKE ?" for c in columns) + ")", [pattern] * len(columns)))
        elif cjk(lowered):
            clauses.append((f"id IN (SELECT id FROM {grams} WHERE ' ' || grams || ' ' LIKE ?)", [f"% {lowered} %"]))
        else:
            clauses.append((f"id IN (SELECT id FROM {grams} WHERE ' ' || grams LIKE ?)", [f"% {lowered}%"]))
    return clauses


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
