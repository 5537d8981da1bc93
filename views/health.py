"""Database health (数据库状态, administrator): the file's size with its write-ahead log (on PostgreSQL the
database's size and the old row versions waiting for VACUUM), records per register, the system tables with their
indexes (and sizes, on PostgreSQL), the newest audit entry, the last backup (when backups are installed) and, on
request, SQLite's check of the whole file (on PostgreSQL, of its indexes)."""
from datetime import datetime

import pandas as pd
import streamlit as st

from kefu import admin
from kefu.ui import context
from kefu.ui.text import plain

CHECKED = "adm_health_checked"       # the last integrity check of this session: (time, problems)


def render() -> None:
    actor = context.screen("health", "adm.health_title", "adm.health_intro")
    store, tr, lang = context.store(), context.tr, context.lang()
    facts = admin.health(store, actor, lang)
    sizes = st.columns(3)
    if facts.postgres:             # the server keeps its own log and reuses old rows' space: no file to speak of
        sizes[0].metric(tr("adm.db_size"), admin.file_size(facts.size_bytes))
        sizes[1].metric(tr("adm.wal_size"), tr("adm.not_applicable"), help=tr("adm.wal_pg"))
        sizes[2].metric(tr("adm.dead_rows"), f"{facts.dead_rows:,}", help=tr("adm.dead_rows_help"))
    else:
        sizes[0].metric(tr("adm.file_size"), admin.file_size(facts.size_bytes))
        sizes[1].metric(tr("adm.wal_size"), admin.file_size(facts.wal_bytes))
        sizes[2].metric(tr("adm.free_space"), admin.file_size(facts.free_bytes))
    times = st.columns(3)
    times[0].metric(tr("adm.newest_audit"), clock(facts.newest_audit) or tr("common.none"))
    # -- last backup: kefu.backup.last_backup(store), shown only where kefu/backup.py is installed ------
    if facts.has_backup_module:
        times[1].metric(tr("adm.last_backup"), clock(facts.last_backup) or tr("adm.no_backup"))
    if facts.postgres:
        st.caption(tr("adm.db_line", location=plain(facts.location), engine=facts.engine))
    else:
        st.caption(tr("adm.file_line", path=plain(facts.location), version=facts.engine.split()[-1],
                      mode=facts.journal_mode))
    integrity(store, actor)
    counts = {tr(name): st.column_config.NumberColumn(format="localized")
              for name in ("adm.records_live", "adm.records_deleted", "adm.rows", "adm.indexes")}
    halves = st.columns([3, 2])
    with halves[0]:
        st.subheader(tr("adm.registers"), anchor=False)
        st.dataframe(table(facts.postgres, {tr("adm.perm_register"): [r["label"] for r in facts.registers],
                                            tr("adm.records_live"): [r["live"] for r in facts.registers],
                                            tr("adm.records_deleted"): [r["deleted"] for r in facts.registers]},
                           facts.registers),
                     hide_index=True, width="stretch", height="content", column_config=counts)
    with halves[1]:
        st.subheader(tr("adm.system_tables"), anchor=False)
        st.dataframe(table(facts.postgres, {tr("adm.table"): [r["label"] for r in facts.system],
                                            tr("adm.rows"): [r["rows"] for r in facts.system]}, facts.system),
                     hide_index=True, width="stretch", height="content", column_config=counts)


def table(postgres: bool, columns: dict, rows: list[dict]) -> pd.DataFrame:
    """A health table with each table's indexes and, on PostgreSQL, its size with them."""
    tr = context.tr
    columns[tr("adm.indexes")] = [r["indexes"] for r in rows]
    if postgres:
        columns[tr("adm.table_size")] = [admin.file_size(r["bytes"]) for r in rows]
    return pd.DataFrame(columns)


def integrity(store, actor) -> None:
    tr = context.tr
    with st.container(border=True):
        head = st.columns([3, 1], vertical_alignment="center")
        head[0].markdown(f"**{tr('adm.integrity')}**")
        head[0].caption(tr("adm.integrity_help_pg" if store.url else "adm.integrity_help"))
        if head[1].button(tr("adm.integrity_button_pg" if store.url else "adm.integrity_button"), key="adm_integrity", icon=":material/fact_check:",
                          width="stretch"):
            with st.spinner(tr("adm.integrity_running")):
                problems = admin.check_integrity(store, actor)
            st.session_state[CHECKED] = (datetime.now(store.settings.tz).strftime("%Y-%m-%d %H:%M:%S"), problems)
        checked = st.session_state.get(CHECKED)
        if checked is None:
            return
        at, problems = checked
        pg = "_pg" if store.url else ""
        if problems:
            st.error(tr(f"adm.integrity_bad{pg}", at=at) + "\n\n" + "\n".join(f"- `{p}`" for p in problems[:20]),
                     icon=":material/error:")
        else:
            st.success(tr(f"adm.integrity_ok{pg}", at=at), icon=":material/verified:")


def clock(iso: str | None) -> str:
    """An ISO time as the office reads it: 2026-11-23 14:05."""
    return str(iso)[:16].replace("T", " ") if iso else ""
