"""python -m kefu: a thin shell over the library (init, check, seed, export, import, incentives, backup,
restore, migrate-to, anonymise, user add, kiosk-token)."""
from __future__ import annotations

import argparse
import getpass
import os
import sys
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from kefu import auth, config, kpi, pg
from kefu.errors import KefuError, MigrationError
from kefu.exporting import csv_bytes, xlsx_bytes
from kefu.fields import format_fen
from kefu.i18n import t
from kefu.rules import RulesError, bring_in_force, read_rules
from kefu.rules import folder as rules_folder
from kefu.sheets import ROLES, SchemaError, ValidationError, load_sheets
from kefu.store import Query, Store

RULES_DIR = config.ROOT / "rules"


def open_store(db: str | None = None, *, migrate: bool = True) -> Store:
    store = Store(db or config.db_path(), load_sheets(), config.load())
    if migrate:
        for step in store.migrate():
            print(f"migrate: {step}", file=sys.stderr)
        for index in kpi.prepare(store):
            print(f"migrate: created index {index}", file=sys.stderr)
        for name in bring_in_force(store):
            print(f"rules: {name}.toml now holds the version in force today", file=sys.stderr)
    return store


def _rules_in_force(db, sheets, settings) -> None:
    import sqlite3
    store = Store(db, sheets, settings)
    try:
        for name in bring_in_force(store):
            print(f"rules: {name}.toml now holds the version in force today", file=sys.stderr)
    except (sqlite3.Error, pg.Error):             # a database not yet migrated has no saved rules
        pass
    finally:
        store.close()


def cmd_check(args) -> int:
    """Sheets, office.toml and every rule file: one line per problem naming the file (and field or key)."""
    problems, sheets, settings = [], None, None
    try:
        sheets = load_sheets()
    except SchemaError as exc:
        problems += exc.problems
    try:
        settings = config.load()
    except config.ConfigError as exc:
        problems.append(str(exc))
    directory = Path(args.rules) if args.rules else rules_folder()
    db = args.db or config.db_path()
    unusable = pg.database_problem(db) if pg.is_url(db) else None     # a PostgreSQL URL: reached, pg_trgm, may make tables
    if unusable is not None:
        problems.append(unusable.message("en"))
    elif sheets and settings and not args.rules and (pg.is_url(db) or Path(db).exists()):   # a URL, or a file there
        _rules_in_force(db, sheets, settings)         # a version whose day has come is what the file holds
    rule_files, rule_problems = check_rules(directory, sheets, settings)
    problems += rule_problems
    if sheets and settings:
        from kefu import privacy
        problems += privacy.problems(sheets, settings)
    if problems:
        print("\n".join(problems))
        return 1
    print(f"ok: {len(sheets)} sheets ({', '.join(sheets)})")
    print(f"ok: {len(rule_files)} rule files in {directory} ({', '.join(rule_files)})")
    return 0


def check_rules(directory: Path, sheets: dict | None, settings: config.Settings | None) -> tuple[list[str], list[str]]:
    """Read every rule file of `directory` with its own loader (a file without one is only parsed).
    Returns the files read and one line per broken file, each naming the file and the key."""
    from kefu import club, incentives, sla, surveys, workflow
    members = (sheets or {}).get(club.MEMBERS)
    tiers = [c["value"] for c in members.by_name["tier"].choices] if members and "tier" in members.by_name else None
    points = (sheets or {}).get(incentives.POINTS)
    project_types = ([c["value"] for c in points.by_name["project_type"].choices]
                     if points and "project_type" in points.by_name else None)
    loaders = {
        "sla.toml": lambda path: sla.load_rules(path, tz=settings.tz if settings else ZoneInfo("UTC"), sheets=sheets),
        "workflow.toml": workflow.load_workflow,
        "club.toml": lambda path: club.load_rules(path, tier_choices=tiers),
        "club_surveys.toml": surveys.load_rules,
        "incentives.toml": lambda path: incentives.load_rules(path, project_types=project_types),
        "kpi.toml": kpi.load_rules,
    }
    names = sorted(set(loaders) | {path.name for path in directory.glob("*.toml")})
    problems = []
    for name in names:
        path = directory / name
        try:
            loaders.get(name, read_rules)(path)
        except RulesError as exc:
            problems.append(str(exc))
        except Exception as exc:                    # a shape the loader does not expect: still name the file
            problems.append(f"{path}: cannot be read ({type(exc).__name__}: {exc})")
    return names, problems


def cmd_init(args) -> int:
    from seed.demo import DEMO_ACCOUNTS, DEMO_PASSWORD, seed_demo
    store = open_store(args.db)
    if args.demo:
        if not store.is_empty():
            print(f"{store.shown_location}: already has users; demo data not added")
            return 0
        counts = seed_demo(store)
        print(f"{store.shown_location}: demo office created: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
        print("demo accounts (password " + DEMO_PASSWORD + "): " + ", ".join(a[0] for a in DEMO_ACCOUNTS))
    else:
        print(f"{store.shown_location}: ready" + (" (no users yet: open the app to create the administrator)"
                                        if store.is_empty() else ""))
    return 0


def cmd_seed(args) -> int:
    from seed.demo import scale
    store = open_store(args.db)
    counts = scale(store, args.scale)
    print(f"{store.shown_location}: added " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    return 0


def date_filter_field(sheet) -> str | None:
    return next((f.name for f in sheet.fields if f.name in sheet.filters and f.type_name in ("date", "datetime")), None)


def cmd_export(args) -> int:
    store = open_store(args.db)
    sheet = store.sheet(args.sheet) if args.sheet in store.sheets else None
    if sheet is None:
        print(f"unknown sheet '{args.sheet}' (sheets: {', '.join(store.sheets)})", file=sys.stderr)
        return 2
    query = Query()
    if args.date_from or args.date_to:
        field = date_filter_field(sheet)
        if field is None:
            print(f"sheet '{sheet.name}' has no date filter", file=sys.stderr)
            return 2
        for value in (args.date_from, args.date_to):
            if value:
                date.fromisoformat(value)
        query.filters[field] = (args.date_from, args.date_to)
    actor = auth.User(id=None, username=f"cli:{args.role}", display_name="CLI", role=args.role)
    as_xlsx = bool(args.output) and args.output.lower().endswith(".xlsx")
    write_out((xlsx_bytes if as_xlsx else csv_bytes)(store, sheet.name, actor, query, args.lang), args.output)
    return 0


def write_out(data: bytes, output: str | None) -> None:
    """A file's bytes to -o FILE, or to standard output."""
    if output:
        Path(output).write_bytes(data)
        print(f"wrote {output}", file=sys.stderr)
    else:
        sys.stdout.buffer.write(data)


def cmd_incentives(args) -> int:
    """The run of a month or a quarter as finance's CSV (or XLSX). --approve --user NAME: that user's step of
    the approval chain first (the manager prepares, finance and HR check, the gm approves); --send-back
    REASON --user NAME: send it back to the preparer. A refusal exits with 1, naming what is missing."""
    from kefu import incentives
    store = open_store(args.db)
    if args.approve or args.send_back is not None:
        if not args.user:
            print("--approve and --send-back take --user NAME: each step of the chain is a named person's",
                  file=sys.stderr)
            return 2
        actor = cli_actor(store, args.user)
        if args.send_back is not None:
            incentives.send_back(store, actor, args.period, args.send_back)
        else:
            incentives.take_step(store, actor, args.period)
        found = incentives.chain(store, args.period)
        last = found.steps[-1]
        print(f"{found.period.label}: {t('ic.step_' + last.step, 'en').lower()} by {last.user_name} "
              f"({t('role.' + last.role, 'en')}); total {format_fen(last.total_fen)} yuan"
              + ("; the period is now locked" if found.state == incentives.APPROVED
                 else f"; next: {found.next[0]} ({incentives.say_roles(incentives.role_list(found.next[1]), 'en')})"),
              file=sys.stderr)
    run = incentives.run_for(store, auth.SYSTEM, args.period)      # approved, as prepared, or computed now
    if not run.approved:
        print(f"{run.period.label} is not approved: this is a draft", file=sys.stderr)
    kind = "xlsx" if args.output and args.output.lower().endswith(".xlsx") else "csv"
    write_out(incentives.csv_bytes(run, args.lang) if kind == "csv" else incentives.xlsx_bytes(run, args.lang),
              args.output)
    return 0


def cmd_import(args) -> int:
    """Import a CSV or XLSX file into a sheet, all or nothing; --dry-run only checks it."""
    from kefu import importing
    store = open_store(args.db)
    if args.sheet not in store.sheets:
        print(f"unknown sheet '{args.sheet}' (sheets: {', '.join(store.sheets)})", file=sys.stderr)
        return 2
    actor = auth.SYSTEM
    if args.user:
        row = store.conn.execute("SELECT id FROM kefu_users WHERE username = ? AND active = 1", (args.user,)).fetchone()
        if row is None:
            print(f"no active user '{args.user}'", file=sys.stderr)
            return 2
        actor = auth.get_user(store, row[0])
    sheet = store.sheet(args.sheet)
    importing.require_import(sheet, actor)
    table = importing.read_path(args.file, worksheet=args.worksheet)
    mapping = importing.auto_map(sheet, table.headers)
    for pair in args.map or []:
        header, _, name = pair.partition("=")
        if header not in table.headers or (name and name not in sheet.by_name):
            print(f"--map {pair!r}: the file has no column {header!r} or the sheet no field {name!r}", file=sys.stderr)
            return 2
        mapping[table.headers.index(header)] = name or None
    for header, name in zip(table.headers, mapping):
        print(f"column {header!r} -> {name or '(left out)'}", file=sys.stderr)
    plan = importing.check(store, sheet.name, table, mapping, actor)
    for message in importing.problem_messages(store, plan, args.lang):
        print(message, file=sys.stderr)
    if plan.problems:
        return 1
    for error in importing.error_rows(store, plan, args.lang):
        print("\t".join(str(v) for v in error.values()), file=sys.stderr)
    print(f"{table.kind}{' ' + table.encoding if table.encoding else ''}: {plan.total} rows; "
          f"{len(plan.new)} new, {len(plan.updates)} would update a record, "
          f"{len(plan.matched) - len(plan.updates)} match a record unchanged, {len(plan.bad_rows)} with errors",
          file=sys.stderr)
    if args.errors_csv:
        Path(args.errors_csv).write_bytes(importing.errors_csv(store, plan, args.lang))
    if args.dry_run:
        return 1 if plan.errors else 0
    if plan.errors and not args.skip_invalid:
        print("nothing imported: correct the file, or pass --skip-invalid to leave the rows with errors out",
              file=sys.stderr)
        return 1
    outcome = importing.commit(store, plan, actor, duplicates=args.duplicates, skip_invalid=args.skip_invalid,
                               progress=lambda done, total: print(f"imported {done} of {total}", file=sys.stderr,
                                                                  flush=True))
    print(f"imported into {sheet.name}: {outcome.created} created, {outcome.updated} updated, "
          f"{outcome.skipped} skipped (matched a record), {outcome.left_out} left out (errors)")
    return 0


def cli_actor(store, username: str | None):
    """--user NAME: that active user (their rights, named in the audit); else the system."""
    if not username:
        return auth.SYSTEM
    row = store.conn.execute("SELECT id FROM kefu_users WHERE username = ? AND active = 1", (username,)).fetchone()
    if row is None:
        raise KefuError("or.no_user", name=username)
    return auth.get_user(store, row[0])


def cmd_rules(args) -> int:
    """rules apply FILE.toml [--from DATE] [--dry-run] | rules history NAME | rules restore NAME VERSION:
    the office rules editor's engine (kefu/office_rules.py), as the screen uses it. A refusal exits with 2,
    its message naming the key."""
    from kefu import office_rules
    store = open_store(args.db)
    try:
        actor = cli_actor(store, args.user)
        if args.rules_command == "apply":
            outcome = office_rules.apply_file(store, actor, args.file, effective_from=args.date_from,
                                              dry_run=args.dry_run)
            if args.dry_run:
                print_preview(outcome, args.lang)
                return 0
            print_saved(outcome, args.lang)
        elif args.rules_command == "restore":
            print_saved(office_rules.restore(store, actor, args.name, args.version, effective_from=args.date_from),
                        args.lang)
        else:
            found = office_rules.history(store, actor, args.name)
            if not found:
                print(t("or.no_history", args.lang))
            for version in found:
                print(f"v{version.version}\t{version.saved_at}\t{version.saved_by_name}\t"
                      f"{version.effective_from or t('or.always', args.lang)}\t{version.note}")
    except KefuError as exc:
        print(exc.message(args.lang), file=sys.stderr)
        return 2
    return 0


def print_saved(saved, lang: str) -> None:
    print(t("or.saved", lang, version=saved.version.version, day=saved.effective_from.isoformat()))
    for change in saved.changes:
        print(f"  {change.key}: {change.before} -> {change.after}")
    if saved.retimed:
        print(t("or.retimed", lang, count=saved.retimed, day=saved.effective_from.isoformat()))


def print_preview(shown, lang: str) -> None:
    """A dry run: the rules are valid; the figures that would change and what they would do."""
    from kefu.i18n import label
    print(f"ok: rules/{shown.name}.toml is valid; nothing written")
    if not shown.changes:
        print(t("or.nothing_changed", lang))
    for change in shown.changes:
        print(f"  {change.key} ({label(change.label, lang)}): {change.before} -> {change.after}")
    if shown.ranking:
        ranking = shown.ranking
        print(t("or.ranking_title", lang, year=ranking.year, quarter=ranking.quarter))
        for row in ranking.rows:
            print(f"  {row.place_before or '-'} -> {row.place_after or '-'}\t{row.name}\t"
                  f"{'' if row.score_before is None else row.score_before} -> "
                  f"{'' if row.score_after is None else row.score_after}")
    for run in shown.runs:
        print(t("or.runs_title", lang, period=run.period) + ": "
              + t("or.run_total", lang, before=format_fen(run.total_before), after=format_fen(run.total_after)))
    if shown.name == "sla":
        changed = [due for due in shown.dues if due.changed]
        print(t("or.dues_title", lang, day=shown.effective_from.isoformat()) + f": {len(changed)}")
        for due in changed:
            print(f"  {due.ticket_no}\t{due.resolution_before} -> {due.resolution_after}")
        print(t("or.dues_kept", lang, count=shown.dues_kept, day=shown.effective_from.isoformat()))


def cmd_backup(args) -> int:
    """A consistent copy of the database while the app may be writing: to -o FILE, or the day's backup
    into the backup folder (office.toml [backup]) keeping the newest `keep`."""
    from kefu import backup
    store = open_store(args.db)
    if args.output:
        path = backup.backup_to(store, args.output)
    else:
        path = backup.daily(store, backup.folder_of(store), store.settings.backup_keep)
        if path is None:
            print(f"today's backup is already in {backup.folder_of(store)}", file=sys.stderr)
            return 0
    print(f"backup written: {path} ({path.stat().st_size / 2**20:,.1f} MiB)")
    return 0


def cmd_restore(args) -> int:
    """Replace the database by a backup after checking it; the current data is kept aside first."""
    from kefu import backup
    store = open_store(args.db)
    aside = backup.restore(store, args.file)
    print(f"restored {args.file}; the data as it was before is kept in {aside}")
    return 0


def cmd_migrate_to(args) -> int:
    """Copy the office's SQLite file into a PostgreSQL database, in one transaction committed only when every
    table's row count and checksum match the file. Exit 0 when complete; 1 (the target untouched) otherwise."""
    from kefu import migrate
    lang = args.lang
    source = args.source or args.db or config.db_path()
    if pg.is_url(str(source)):
        print(t("mg.source_not_file", lang), file=sys.stderr)
        return 1
    if not Path(source).is_file():
        print(t("mg.no_file", lang, path=source), file=sys.stderr)
        return 1
    if not pg.is_url(args.url):
        print(t("mg.target_not_url", lang, target=args.url), file=sys.stderr)
        return 1
    store = open_store(str(source))
    try:
        outcome = migrate.migrate_to(store, args.url, progress=lambda table, rows: print(
            t("mg.copying", lang, table=table, rows=rows), flush=True))
    except KeyboardInterrupt:
        print(t("mg.interrupted", lang), file=sys.stderr)
        return 130
    except migrate.Mismatch as exc:
        print_copies(exc.outcome, lang)
        print(exc.message(lang), file=sys.stderr)
        return 1
    except MigrationError as exc:
        print(t("mg.failed", lang, detail="; ".join(exc.problems)), file=sys.stderr)
        return 1
    except KefuError as exc:
        print(exc.message(lang) if isinstance(exc, migrate.MigrateRefused)
              else t("mg.failed", lang, detail=exc.message(lang)), file=sys.stderr)
        return 1
    finally:
        store.close()
    print_copies(outcome, lang)
    for table, rows in outcome.skipped.items():
        print(t("mg.sessions", lang, rows=rows))
    print(t("mg.done", lang, rows=outcome.rows, tables=len(outcome.tables), target=outcome.target))
    return 0


def print_copies(outcome, lang: str) -> None:
    """table, rows, checksum match: one line per table copied."""
    width = max([len(t("mg.col_table", lang)), *(len(c.table) for c in outcome.tables)])
    print(f"{t('mg.col_table', lang):<{width}}  {t('mg.col_rows', lang):>9}  {t('mg.col_checksum', lang)}")
    for copied in outcome.tables:
        rows = f"{copied.rows}" if copied.rows == copied.target_rows else f"{copied.rows}->{copied.target_rows}"
        print(f"{copied.table:<{width}}  {rows:>9}  "
              f"{t('mg.match' if copied.matches else 'mg.differs', lang)} {copied.source_sum[:12]}")


def cmd_anonymise(args) -> int:
    """Empty the ID numbers and phones of visits older than office.toml [privacy] visitor_days (what the app
    does each day); --dry-run counts them."""
    from kefu import privacy
    store = open_store(args.db)
    run = privacy.anonymise(store, auth.SYSTEM, dry_run=args.dry_run)
    if run.dry_run:
        print(f"{run.records} visits from before {run.cutoff} (older than {run.days} days) hold an ID number or a "
              f"phone; nothing changed")
    else:
        print(f"emptied the ID numbers and phones of {run.records} visits from before {run.cutoff} "
              f"(older than {run.days} days)")
    return 0


def cmd_user_add(args) -> int:
    store = open_store(args.db)
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            print("the two passwords differ", file=sys.stderr)
            return 1
    user_id = auth.create_user(store, args.name, args.display_name or args.name, args.role, password, auth.SYSTEM,
                               language=args.lang)
    print(f"user {args.name} ({args.role}) created with id {user_id}")
    return 0


def cmd_serve(args) -> int:
    """Several app processes on one database file behind Caddy, supervised until Ctrl-C or SIGTERM."""
    from kefu.cluster import Cluster, ClusterError
    cluster = Cluster(workers=args.workers or os.cpu_count() or 1, port=args.port, address=args.address)
    try:
        cluster.start()
        cluster.run_forever()
    except ClusterError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


def cmd_kiosk_token(args) -> int:
    store = open_store(args.db)
    if args.off:
        auth.disable_kiosk(store, auth.SYSTEM)
        print("kiosk turned off: the survey kiosk URL no longer opens")
        return 0
    token = auth.create_kiosk_token(store, auth.SYSTEM)
    print(f"kiosk token created (any earlier one no longer works); open on the kiosk:\n"
          f"  http://<server>:8501/survey?kiosk={token}")
    return 0


def cmd_sheet(args) -> int:
    """A register file applied live (checked against the stored records first), its versions, a restore.
    Exit 2 when the register is refused (the loader's problems, a locked field, records that would break)."""
    from kefu import designer
    store = open_store(args.db, migrate=False)       # the change itself migrates, after its checks
    try:
        if args.sheet_command == "apply":
            text = Path(args.file).read_text(encoding="utf-8")
            plan = designer.apply(store, auth.SYSTEM, text, dry_run=args.dry_run, check_base=False,
                                  note=f"python -m kefu sheet apply {Path(args.file).name}")
        elif args.sheet_command == "restore":
            plan = designer.restore(store, auth.SYSTEM, args.name, args.version, dry_run=args.dry_run)
        else:
            found = designer.history(store, args.name)
            if not found:
                print(f"no saved versions of '{args.name}' (a file written by hand is kept as version 1 on its "
                      f"first save)", file=sys.stderr)
                return 1
            for version in found:
                print(f"v{version.version}\t{version.saved_at}\t{version.saved_by_name}\t{version.sha256[:12]}\t"
                      f"{version.note}")
            return 0
    except designer.DesignRefused as exc:
        print(f"{args.sheet_command} refused, nothing changed:", file=sys.stderr)
        print("\n".join(exc.messages("en")), file=sys.stderr)
        if exc.diff:
            print(exc.diff, file=sys.stderr)
        return 2
    if plan.diff:
        print(plan.diff, file=sys.stderr)
    for step in plan.steps:
        print(f"migrate: {step}", file=sys.stderr)
    if args.dry_run:
        print(f"{plan.name}: checked, would apply; nothing changed (--dry-run)")
    else:
        saved = f" as version {plan.version.version}" if plan.version else ""
        print(f"{plan.name}: applied{saved}; running sessions see it on their next click")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m kefu", description="Kefu Desk command line")
    top.add_argument("--db", help="database file (default: $KEFU_DB or data/kefu.db)")
    sub = top.add_subparsers(dest="command", required=True)
    p = sub.add_parser("init", help="create or migrate the database")
    p.add_argument("--demo", action="store_true", help="fill an empty database with the demo office")
    p.set_defaults(func=cmd_init)
    p = sub.add_parser("check", help="validate schema/*.toml, office.toml and the rule files in rules/")
    p.add_argument("--rules", help=f"the folder of rule files to check (default: {RULES_DIR})")
    p.set_defaults(func=cmd_check)
    p = sub.add_parser("seed", help="add bulk demo data for benchmarks")
    p.add_argument("--scale", type=int, required=True,
                   help="size N: N tickets with their steps, N/5 customer archives with 10 transactions "
                        "each, 0.3 x N visits")
    p.set_defaults(func=cmd_seed)
    p = sub.add_parser("export", help="export a sheet as CSV (UTF-8 with BOM) or Excel (-o FILE.xlsx), as a role sees it")
    p.add_argument("sheet")
    p.add_argument("--from", dest="date_from", help="first date, YYYY-MM-DD")
    p.add_argument("--to", dest="date_to", help="last date, YYYY-MM-DD")
    p.add_argument("--role", default="staff", choices=ROLES, help="export as this role sees it (default staff)")
    p.add_argument("--lang", default=config.load().default_language, choices=config.LANGUAGES)
    p.add_argument("-o", "--output", help="file to write, .csv or .xlsx (default: CSV on standard output)")
    p.set_defaults(func=cmd_export)
    p = sub.add_parser("incentives", help="the incentive run of a month or quarter as CSV (or .xlsx), for finance")
    p.add_argument("--period", required=True, help="a month (2026-10) or a quarter (2026-Q4)")
    p.add_argument("--approve", action="store_true",
                   help="the --user's step of the approval chain first: prepare (manager), check (finance, HR) or "
                        "approve (gm; locks the period)")
    p.add_argument("--send-back", metavar="REASON", help="send the run back to the preparer, saying why (--user)")
    p.add_argument("--user", help="the person taking the step (their role decides which)")
    p.add_argument("--lang", default=config.load().default_language, choices=config.LANGUAGES)
    p.add_argument("-o", "--output", help="file to write, .csv or .xlsx (default: CSV on standard output)")
    p.set_defaults(func=cmd_incentives)
    p = sub.add_parser("import", help="import a CSV (UTF-8, GBK/GB18030) or XLSX file into a sheet, all or nothing")
    p.add_argument("sheet")
    p.add_argument("file")
    p.add_argument("--dry-run", action="store_true", help="check every row and report; write nothing")
    p.add_argument("--duplicates", default="skip", choices=("skip", "update"),
                   help="rows matching a record by the sheet's unique key: skip them (default) or update the record")
    p.add_argument("--skip-invalid", action="store_true", help="import the good rows, leaving the rows with errors out")
    p.add_argument("--worksheet", help="the workbook's sheet to read (default: the first)")
    p.add_argument("--map", action="append", metavar="HEADER=FIELD",
                   help="fill FIELD from the column HEADER (HEADER= leaves the column out); repeatable")
    p.add_argument("--user", help="import as this user (their rights; named in the audit); default: the system")
    p.add_argument("--errors-csv", metavar="FILE", help="write the list of bad cells to FILE")
    p.add_argument("--lang", default=config.load().default_language, choices=config.LANGUAGES)
    p.set_defaults(func=cmd_import)
    p = sub.add_parser("rules", help="change an office rules file (rules/*.toml) as the office rules screen does: "
                                     "checked, versioned, in force from a day")
    rules_sub = p.add_subparsers(dest="rules_command", required=True)
    q = rules_sub.add_parser("apply", help="check FILE.toml (named as the rules file: kpi.toml, sla.toml, ...) and make "
                                           "it the office's rules from --from (default today); exit 2 if refused")
    q.add_argument("file")
    q.add_argument("--from", dest="date_from", help="the day the figures take effect, YYYY-MM-DD (default today)")
    q.add_argument("--dry-run", action="store_true", help="check it and show what would change; write nothing")
    q = rules_sub.add_parser("history", help="list the saved versions of a rules file")
    q.add_argument("name", help="kpi, incentives, sla, club, club_surveys or workflow")
    q = rules_sub.add_parser("restore", help="make a saved version the rules again (checked again, a new version)")
    q.add_argument("name")
    q.add_argument("version", type=int)
    q.add_argument("--from", dest="date_from", help="the day the restored figures take effect (default today)")
    for q in rules_sub.choices.values():
        q.add_argument("--user", help="act as this user (manager or gm may change rules; named in the audit); "
                                      "default: the system")
        q.add_argument("--lang", default=config.load().default_language, choices=config.LANGUAGES)
    p.set_defaults(func=cmd_rules)
    p = sub.add_parser("backup", help="back the database up (consistent while the app writes)")
    p.add_argument("-o", "--output", help="the backup file (default: the day's backup in the backup folder)")
    p.set_defaults(func=cmd_backup)
    p = sub.add_parser("restore", help="replace the database by a backup, after checking it (the current data is kept aside)")
    p.add_argument("file")
    p.set_defaults(func=cmd_restore)
    p = sub.add_parser(
        "migrate-to", help="copy the office's SQLite file into a PostgreSQL database (one transaction: complete or "
                           "nothing written)",
        description="Copy every record of the office's SQLite file (--from FILE, else --db or $KEFU_DB) into the "
                    "PostgreSQL database at URL, which must hold no records yet: the database is migrated with the "
                    "same registers, filled with the same ids, and every table's row count and checksum compared "
                    "with the file before anything is committed. It is one transaction: a refusal, a difference, "
                    "Ctrl-C, a killed process or a lost connection leaves the target as it was, so there is never "
                    "a half-copied office to clean up; run it again. Login sessions are not copied (everyone logs in "
                    "again). Stop the app first: records written after the copy starts are not in it.")
    p.add_argument("url", help="the target, postgresql://user:password@host/database")
    p.add_argument("--from", dest="source", metavar="FILE", help="the office's SQLite file (default: --db, $KEFU_DB or data/kefu.db)")
    p.add_argument("--lang", default=config.load().default_language, choices=config.LANGUAGES)
    p.set_defaults(func=cmd_migrate_to)
    p = sub.add_parser("anonymise", help="empty the ID numbers and phones of visits past the retention period "
                                         "(office.toml [privacy] visitor_days)")
    p.add_argument("--dry-run", action="store_true", help="count the visits due; change nothing")
    p.set_defaults(func=cmd_anonymise)
    p = sub.add_parser("serve", help="serve the app with several worker processes behind Caddy (make serve)")
    p.add_argument("--workers", type=int, default=0, help="worker processes (default: the number of cores)")
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--address", default="localhost")
    p.set_defaults(func=cmd_serve)
    p = sub.add_parser("kiosk-token", help="create the survey kiosk's token (the URL needs no login)")
    p.add_argument("--off", action="store_true", help="turn the kiosk off instead")
    p.set_defaults(func=cmd_kiosk_token)
    p = sub.add_parser("sheet", help="apply a register file live, list its saved versions, restore one")
    sheets = p.add_subparsers(dest="sheet_command", required=True)
    p = sheets.add_parser("apply", help="check FILE.toml against the stored records and apply it (exit 2 if refused)")
    p.add_argument("file")
    p.add_argument("--dry-run", action="store_true", help="check only; write nothing")
    p.set_defaults(func=cmd_sheet)
    p = sheets.add_parser("history", help="the saved versions of a register")
    p.add_argument("name")
    p.set_defaults(func=cmd_sheet)
    p = sheets.add_parser("restore", help="save an earlier version again (checked like any change)")
    p.add_argument("name")
    p.add_argument("version", type=int)
    p.add_argument("--dry-run", action="store_true", help="check only; write nothing")
    p.set_defaults(func=cmd_sheet)
    p = sub.add_parser("user", help="manage users")
    users = p.add_subparsers(dest="user_command", required=True)
    p = users.add_parser("add", help="add a user")
    p.add_argument("name")
    p.add_argument("--role", required=True, choices=ROLES)
    p.add_argument("--display-name")
    p.add_argument("--lang", choices=config.LANGUAGES)
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p.set_defaults(func=cmd_user_add)
    return top


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    lang = "zh" if getattr(args, "lang", None) == "zh" and args.command == "import" else "en"
    try:
        return args.func(args)
    except SchemaError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
    except MigrationError as exc:
        print("database not changed:\n" + "\n".join(exc.problems), file=sys.stderr)
    except ValidationError as exc:
        print("\n".join(exc.messages(lang)), file=sys.stderr)
    except (KefuError, config.ConfigError, RulesError, ValueError) as exc:
        print(exc.message(lang) if isinstance(exc, KefuError) else str(exc), file=sys.stderr)
    except OSError as exc:                           # a file named on the command line that cannot be read
        print(f"{exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
    return 1
