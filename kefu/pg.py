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

import getpass
import itertools
import os
import re
from datetime import date, datetime
from functools import lru_cache

import psycopg
import psycopg.types.numeric
import sqlglot
from psycopg.conninfo import conninfo_to_dict
from psycopg.pq import TransactionStatus
from sqlglot import exp

from kefu import config
from kefu.errors import DatabaseGone, DatabaseUnavailable

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
    # SQLite's json_set(doc, '$.key', value) on a JSON text (the demo's back-dated audit entries): one per value type,
    # so a parameter of no declared type (a str) is text and a number stays a number in the document
    *(f"CREATE OR REPLACE FUNCTION kefu_json_set(doc text, path text, value {kind}) RETURNS text LANGUAGE sql "
      "IMMUTABLE AS $f$ SELECT jsonb_set(doc::jsonb, ARRAY[substr(path, 3)], to_jsonb(value))::text $f$"
      for kind in ("text", "bigint", "double precision")),
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

    def __init__(self, cursor: psycopg.Cursor | None, returning: bool):
        self._cursor = cursor                  # None: a transaction's step, which reads nothing
        self.lastrowid = None
        if returning:
            row = cursor.fetchone()
            self.lastrowid = row[0] if row else None
        self.rowcount = cursor.rowcount if cursor is not None else -1

    @property
    def description(self):
        return self._cursor.description if self._cursor is not None else None

    def fetchone(self):
        return self._cursor.fetchone() if self._cursor.description else None

    def fetchall(self):
        return self._cursor.fetchall() if self._cursor.description else []

    def __iter__(self):
        return iter(self.fetchall())


class Connection:
    """A psycopg connection in autocommit mode (the store opens its transactions itself, as on SQLite). It
    stands for the database going away (see "connection handling" below): a lost connection is replaced at the
    next statement outside a transaction, and what was lost inside one raises DatabaseGone."""

    def __init__(self, url: str, *, again: bool = False):
        self.url = url
        self.raw = open_raw(url, again=again)
        self._transaction = False      # a BEGIN of ours not yet ended: what a lost connection was in
        self._xid = None               # the transaction id of the write under way (BEGIN IMMEDIATE)
        self._ids: dict[str, bool] = {}
        self._keys: dict[str, list[str]] = {}

    @property
    def in_transaction(self) -> bool:
        status = self.raw.info.transaction_status
        return self._transaction if status == TransactionStatus.UNKNOWN else status != TransactionStatus.IDLE

    def close(self) -> None:
        self.raw.close()

    def execute(self, sql: str, params=()) -> Cursor:
        head = sql.lstrip()[:20].upper()
        if head.startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")):
            return self._transaction_step(sql, head)
        return self._guarded(self._statement, sql, params, read=head.startswith(("SELECT", "PRAGMA")))

    def _statement(self, sql: str, params) -> Cursor:
        if sql.lstrip()[:6].upper() == "PRAGMA":
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
        return self._guarded(self._native, sql, params, read=sql.lstrip()[:6].upper() == "SELECT")

    def _native(self, sql: str, params):
        return self.raw.execute(sql, params)          # self.raw read now: a new connection after a loss

    def executemany(self, sql: str, rows) -> None:
        self._guarded(self._many, sql, rows)

    def _many(self, sql: str, rows) -> None:
        text, insert_into, replace, order = translate(sql)
        if replace:
            text = self._upsert(text, insert_into)
        if order is not None:
            rows = ([r[i] for i in order] for r in rows)
        with self.raw.cursor() as cursor:
            cursor.executemany(text, [_params(r) for r in rows])

    # -- the database going away: a lost connection replaced, never in the middle of a transaction ------
    def _lost(self) -> bool:
        return self.raw.closed or self.raw.broken

    def _reconnect(self) -> None:
        """A new connection in place of a lost one (DatabaseGone while the server cannot be reached)."""
        self.raw.close()
        self.raw = open_raw(self.url, again=True)

    def _guarded(self, run, *args, read: bool = False):
        """run(*args) with the connection's loss as DatabaseGone. Outside a transaction a lost connection is
        replaced first, and a read that loses it is run once more on a new one; a write is never run again:
        inside a transaction the server rolled it back when the connection went, and the user tries again; a
        write of its own (outside one) may or may not have been done, and the user is told so."""
        if not self._transaction and self._lost():
            self._reconnect()
        try:
            return run(*args)
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            if not self._lost():
                raise
            if self._transaction:
                raise DatabaseGone() from exc
            if not read:
                raise DatabaseGone("err.db_gone_commit") from exc
        self._reconnect()
        try:
            return run(*args)
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            if self._lost():
                raise DatabaseGone() from exc
            raise

    def _transaction_step(self, sql: str, head: str) -> Cursor:
        """BEGIN (on a new connection if the old one was lost: nothing is written yet), COMMIT (lost while it
        was under way: a new connection asks the server what became of it, _commit_cut_off), ROLLBACK (after a
        loss there is nothing to roll back: the server did it)."""
        if head.startswith("BEGIN"):
            self._guarded(self._begin, "IMMEDIATE" in head, read=True)     # run again on a new connection if lost
            self._transaction = True
        elif self._lost():                             # lost before this step was sent: the server rolled back
            if head.startswith("COMMIT") or (head.startswith("ROLLBACK") and not head.startswith("ROLLBACK TO")):
                self._transaction = False
            if not head.startswith("ROLLBACK"):
                raise DatabaseGone()
        elif head.startswith("COMMIT"):
            try:
                self.raw.execute(sql)
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                if not self._lost():
                    raise
                self._transaction = False
                gone = self._commit_cut_off()
                if gone is not None:
                    raise gone from exc
            finally:
                self._transaction = self._transaction and self.raw.info.transaction_status not in (
                    TransactionStatus.IDLE, TransactionStatus.UNKNOWN)
        else:
            try:
                self.raw.execute(sql)
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                if self._lost():
                    raise DatabaseGone() from exc
                raise
            if head.startswith("ROLLBACK") and not head.startswith("ROLLBACK TO"):
                self._transaction = False
        return Cursor(None, False)

    def _begin(self, immediate: bool) -> None:
        self.raw.execute("BEGIN")
        self._xid = None
        if immediate:                 # a write: its transaction id, to ask what became of it if COMMIT is cut off
            self._xid = self.raw.execute("SELECT pg_advisory_xact_lock(%s), txid_current()", (WRITE_LOCK,)).fetchone()[1]

    def _commit_cut_off(self) -> DatabaseGone | None:
        """What became of a write whose COMMIT lost the connection, asked of a new one: saved (None, as if nothing
        had happened), rolled back (DatabaseGone: not saved, try again), or unknown while the server is out of
        reach (err.db_gone_commit: it may have been saved; look before entering it again)."""
        xid, self._xid = self._xid, None
        if xid is None:
            return DatabaseGone("err.db_gone_commit")
        try:
            self._reconnect()
            status = self.raw.execute("SELECT txid_status(%s)", (xid,)).fetchone()[0]
        except (DatabaseUnavailable, psycopg.Error):
            return DatabaseGone("err.db_gone_commit")
        if status == "committed":
            return None
        return DatabaseGone() if status == "aborted" else DatabaseGone("err.db_gone_commit")

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


def _param(value):
    """A parameter as SQLite's driver stores it: True as 1 (flags are INTEGER columns), a date or a time as its
    ISO text (the engine keeps days and times as text), the rest as it is."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, datetime):
        return value.isoformat(" ")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _params(params):
    if isinstance(params, dict):
        return params
    return [_param(p) for p in params]


# -- connection handling: a wrong URL, a server out of reach, a database without pg_trgm -------------------
# What libpq and the server say when a connection cannot be made does not come with a SQLSTATE: the kind of
# failure is read from the text (libpq's and the server's English; any other text keeps the general message).
_UNREACHABLE = ("connection refused", "timeout expired", "connection timed out", "could not connect",
                "no such file or directory", "network is unreachable", "no route to host",
                "server closed the connection unexpectedly", "the database system is starting up",
                "the database system is shutting down", "the database system is in recovery mode",
                "not yet accepting connections", "is not accepting connections")
_LOGIN = ("password authentication failed", "authentication failed", "no password supplied", "pg_hba.conf")


def open_raw(url: str, *, again: bool = False) -> psycopg.Connection:
    """A psycopg connection to `url` (autocommit), or DatabaseUnavailable naming what is wrong and what to do
    (`refusal`). `again`: the database was reached before in this process, so a server out of reach is the
    database gone for now (DatabaseGone, "try again"), not a wrong setting."""
    try:
        raw = psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        raise refusal(url, exc, again=again) from None       # the driver's own text may quote the password
    raw.adapters.register_loader("numeric", _SqliteNumbers)
    return raw


def refusal(url: str, exc: Exception, *, again: bool = False) -> DatabaseUnavailable:
    """The message for a connection that could not be made: a URL that is not one, an unknown host, no server
    answering, no such database, a login refused, or (any other text) the driver's words, password masked."""
    text = str(exc).strip()
    lowered = text.lower()
    where = whereabouts(url)
    if isinstance(exc, psycopg.ProgrammingError) or "connection option" in lowered or "invalid uri" in lowered:
        return DatabaseUnavailable("err.pg_url", url=where["url"], detail=masked(text.splitlines()[0], url))
    if "failed to resolve host" in lowered or "could not translate host name" in lowered:
        return DatabaseGone() if again else DatabaseUnavailable("err.pg_host", **where)
    if any(words in lowered for words in _UNREACHABLE):
        return DatabaseGone() if again else DatabaseUnavailable("err.pg_refused", **where)
    if re.search(r'database ".*" does not exist', text):
        return DatabaseUnavailable("err.pg_database", **where)
    if any(words in lowered for words in _LOGIN) or re.search(r'role ".*" does not exist', text):
        return DatabaseUnavailable("err.pg_login", **where)
    if again:                     # reached before: any other failure to connect is taken as passing
        return DatabaseGone()
    return DatabaseUnavailable(detail=f"{where['url']}: {masked(text, url)}".strip())


def whereabouts(url: str) -> dict:
    """What a message names of the database a URL points to: url (password masked), host, port, database, user
    (as libpq completes them from PGHOST, PGPORT, PGUSER, PGDATABASE and its defaults)."""
    try:
        info = conninfo_to_dict(url)
    except psycopg.Error:
        info = {}
    user = info.get("user") or os.environ.get("PGUSER") or getpass.getuser()
    return {"url": masked(url, url), "host": info.get("host") or os.environ.get("PGHOST") or "localhost",
            "port": info.get("port") or os.environ.get("PGPORT") or "5432",
            "database": info.get("dbname") or os.environ.get("PGDATABASE") or user, "user": user}


def masked(text: str, url: str = "") -> str:
    """`text` (a URL, or a message quoting one) with the password of `url`, and any password written in a URL or
    as password=..., shown as ***."""
    text = re.sub(r"(://[^:/@\s]*:)[^@\s]*@", r"\1***@", text)
    text = re.sub(r"(password\s*=\s*)('[^']*'|[^&\s'\"]+)", r"\1***", text, flags=re.I)
    try:
        secret = conninfo_to_dict(url).get("password") if url else None
    except psycopg.Error:
        secret = None
    return text.replace(secret, "***") if secret and len(secret) >= 3 else text


def support_problem(conn: Connection) -> DatabaseUnavailable | None:
    """Why the engine cannot make what it needs in this database, or None: pg_trgm (its search) must be there or
    be creatable by this user (a superuser, or one with CREATE on the database: pg_trgm is a trusted extension),
    and the user must be allowed to make tables in the schema it works in."""
    there, available, creatable, tables, schema, database, user = conn.native(
        "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'), "
        "EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'), "
        "(SELECT rolsuper FROM pg_roles WHERE rolname = current_user) OR (has_database_privilege(current_database(), "
        "'CREATE') AND EXISTS (SELECT 1 FROM pg_available_extension_versions WHERE name = 'pg_trgm' AND trusted)), "
        "current_schema() IS NOT NULL AND has_schema_privilege(current_schema(), 'CREATE'), "
        "coalesce(current_schema(), 'public'), current_database(), current_user").fetchone()
    if not there and not available:
        return DatabaseUnavailable("err.pg_trgm_missing", database=database, host=whereabouts(conn.url)["host"])
    if not there and not creatable:
        return DatabaseUnavailable("err.pg_trgm", database=database, user=user)
    if not tables:
        return DatabaseUnavailable("err.pg_schema", database=database, user=user, schema=schema)
    return None


def create_support(conn: Connection) -> None:
    """SUPPORT_DDL, after making sure it can be made (else DatabaseUnavailable, before anything is written)."""
    problem = support_problem(conn)
    if problem is not None:
        raise problem
    for statement in SUPPORT_DDL:
        conn.native(statement)


def database_problem(url: str) -> DatabaseUnavailable | None:
    """What `kefu check` says of a PostgreSQL database: why it cannot be used, or None. Writes nothing."""
    try:
        conn = Connection(url)
    except DatabaseUnavailable as exc:
        return exc
    try:
        return support_problem(conn)
    finally:
        conn.close()


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
    if isinstance(node, exp.JSONSet):                          # json_set(doc, '$.a', x, '$.b', y): one key at a time
        doc, pairs = node.this, node.expressions
        for path, value in zip(pairs[::2], pairs[1::2]):
            if not (path.is_string and re.fullmatch(r"\$\.\w+", path.name)):
                raise ValueError(f"json_set path {path.sql()} is not of the form '$.key'")
            doc = exp.Anonymous(this="kefu_json_set", expressions=[doc, path, value])
        return doc
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
        fill_grams(conn, sheet_name, columns, grams_of)
    conn.raw.execute("INSERT INTO kefu_meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = "
                     "EXCLUDED.value", (key, wanted))
    return True


def fill_grams(conn: Connection, sheet_name: str, columns: list[str], grams_of) -> None:
    """`<sheet>_grams` made again from every row of the sheet (its searched columns through grams_of)."""
    grams = _ident(f"{sheet_name}_grams")
    conn.raw.execute(f"DELETE FROM {grams}")
    rows = conn.raw.execute(f"SELECT id, {', '.join(_ident(c) for c in columns)} FROM {_ident(sheet_name)}").fetchall()
    with conn.raw.cursor() as cursor, cursor.copy(f"COPY {grams} (id, grams) FROM STDIN") as copy:
        for row in rows:
            copy.write_row((row[0], grams_of(row[1:])))


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


# the knowledge base's suggestions (Store.best_matches): FTS5's bm25 over the same short grams
def best_matches(conn: Connection, sheet_name: str, pieces: list[str], first, limit: int) -> list[int]:
    """The live records whose short grams hold any of the pieces, ranked as SQLite's bm25() ranks them over its
    grams index (k1 = 1.2, b = 0.75: each piece's rarity among the records, how often the record holds it,
    the record's length against the average), first=(column, value) holders before the others."""
    grams, table = _ident(f"{sheet_name}_grams"), _ident(sheet_name)
    before = f"(k.{_ident(first[0])} IS DISTINCT FROM %s), " if first else ""
    rows = conn.raw.execute(
        f"WITH hit AS (SELECT g.id, string_to_array(g.grams, ' ') AS tokens FROM {grams} g "
        f"WHERE ' ' || g.grams || ' ' LIKE ANY (%s)), "
        f"freq AS (SELECT h.id, t.token AS piece, count(*) AS f, cardinality(h.tokens) AS dl "
        f"FROM hit h, unnest(h.tokens) AS t(token) WHERE t.token = ANY (%s) GROUP BY h.id, t.token, h.tokens), "
        f"df AS (SELECT piece, count(*) AS n FROM freq GROUP BY piece), "
        f"docs AS (SELECT count(*) AS n, avg(cardinality(string_to_array(grams, ' '))) AS avgdl FROM {grams}) "
        f"SELECT k.id FROM freq JOIN df USING (piece) CROSS JOIN docs JOIN {table} k ON k.id = freq.id "
        f"WHERE k.deleted_at IS NULL GROUP BY k.id ORDER BY {before}"
        f"sum(greatest(ln((docs.n - df.n + 0.5) / (df.n + 0.5)), 1e-6) * freq.f * 2.2 "
        f"/ (freq.f + 1.2 * (0.25 + 0.75 * freq.dl / docs.avgdl))) DESC, k.id LIMIT %s",
        [[f"% {_escaped(p)} %" for p in pieces], list(pieces), *([first[1]] if first else []), limit]).fetchall()
    return [r[0] for r in rows]


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# -- the administrator's database health (kefu/admin.py): what PostgreSQL answers in place of SQLite's file ----
def health(conn: Connection, url: str, tables: list[str]) -> dict:
    """The server's version, the database's size, each table's size with its indexes and TOAST, and the old row
    versions VACUUM has still to free (the statistics collector's count: approximate, as PostgreSQL keeps it)."""
    version = conn.raw.execute("SHOW server_version").fetchone()[0].split()[0]
    size = conn.raw.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    sizes = dict(conn.raw.execute(
        "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c WHERE c.relkind = 'r' "
        "AND c.relnamespace = current_schema()::regnamespace AND c.relname = ANY (%s)", (tables,)).fetchall())
    dead = conn.raw.execute("SELECT coalesce(sum(n_dead_tup), 0) FROM pg_stat_user_tables "
                            "WHERE schemaname = current_schema()").fetchone()[0]
    return {"version": version, "size": size, "tables": sizes, "dead_rows": int(dead), "location": masked(url, url)}


def index_problems(conn: Connection) -> list[str]:
    """PostgreSQL's check in place of SQLite's quick_check: each index of the schema valid and ready (one whose
    build failed or was cut off is not), and, where the amcheck extension is installed, each B-tree index's
    pages consistent (bt_index_check). [] when sound."""
    problems = [f"index {name} is not valid: REINDEX INDEX {_ident(name)}" for (name,) in conn.raw.execute(
        "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE c.relnamespace = current_schema()::regnamespace AND NOT (i.indisvalid AND i.indisready AND i.indislive) "
        "ORDER BY c.relname").fetchall()]
    if conn.raw.execute("SELECT 1 FROM pg_extension WHERE extname = 'amcheck'").fetchone() and conn.raw.execute(
            "SELECT has_function_privilege('bt_index_check(regclass)', 'EXECUTE')").fetchone()[0]:
        for (name,) in conn.raw.execute(
                "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam "
                "WHERE c.relnamespace = current_schema()::regnamespace AND a.amname = 'btree' AND i.indisvalid "
                "ORDER BY c.relname").fetchall():
            try:
                conn.raw.execute("SELECT bt_index_check(%s::regclass)", (_ident(name),))
            except psycopg.Error as exc:
                problems.append(f"index {name}: {str(exc).strip()}")
    return problems
