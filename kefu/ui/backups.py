"""The backup screen's parts: download a backup now, the daily backups kept, restore from a file.

A restore first saves the uploaded file inside the database's own folder (never elsewhere, never run),
checks it (kefu.backup.check), and only after the administrator confirms replaces the data; the data as
it was is kept aside by kefu.backup.restore.
"""
from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pandas as pd
import streamlit as st

from kefu import backup
from kefu.errors import KefuError
from kefu.i18n import t
from kefu.store import Store
from kefu.ui.text import plain


def download_now(store: Store, lang: str) -> None:
    last = backup.last_backup(store)
    st.caption(t("bk.last", lang, at=last[:16].replace("T", " ")) if last else t("bk.never", lang))
    st.download_button(t("bk.download", lang), icon=":material/download:", type="primary",
                       data=lambda: backup.backup_bytes(store), on_click="ignore", key="bk_download",
                       file_name=f"kefu-{datetime.now(store.settings.tz):%Y%m%d-%H%M%S}{backup.suffix(store)}",
                       mime="application/octet-stream" if store.url else "application/vnd.sqlite3")


def kept(store: Store, lang: str) -> None:
    folder = backup.folder_of(store)
    found = backup.backups(folder)
    st.caption(t("bk.folder", lang, folder=plain(folder), keep=store.settings.backup_keep,
                 daily=t("common.yes" if store.settings.backup_daily else "common.no", lang)))
    if not found:
        st.info(t("bk.none_kept", lang), icon=":material/inbox:")
        return
    st.dataframe(pd.DataFrame({t("bk.col_file", lang): [b.path.name for b in found],
                               t("bk.col_at", lang): [b.at.strftime("%Y-%m-%d %H:%M") for b in found],
                               t("bk.col_size", lang): [f"{b.size / 2**20:,.1f} MB" for b in found]}),
                 hide_index=True, width="stretch")


def restore_from_file(store: Store, lang: str) -> None:
    upload = st.file_uploader(t("bk.restore_file", lang), type=["dump"] if store.url else ["db", "sqlite", "sqlite3"],
                              key="bk_upload",
                              help=t("bk.restore_help", lang))
    if upload is None:
        return
    verdict = st.session_state.get("bk_verdict")
    if not verdict or verdict[0] != upload.file_id:             # checked once per file, not on every rerun
        with st.spinner(t("bk.checking", lang)), _saved(store, upload) as candidate:
            try:
                backup.check(candidate, store)
                verdict = (upload.file_id, None)
            except KefuError as exc:
                verdict = (upload.file_id, exc.message(lang))
        st.session_state["bk_verdict"] = verdict
    if verdict[1]:
        st.error(plain(verdict[1]), icon=":material/error:")
        return
    st.success(t("bk.checked", lang, name=plain(upload.name)), icon=":material/verified:")
    sure = st.checkbox(t("bk.confirm", lang), key="bk_sure")
    if st.button(t("bk.restore", lang), type="primary", disabled=not sure, key="bk_restore",
                 icon=":material/settings_backup_restore:"):
        try:
            with st.spinner(t("bk.restoring", lang)), _saved(store, upload) as candidate:
                aside = backup.restore(store, candidate)        # checks the file again before it replaces anything
        except KefuError as exc:
            st.error(plain(exc.message(lang)), icon=":material/error:")
        else:
            st.success(t("bk.restored", lang, aside=plain(aside.name)), icon=":material/check_circle:")


@contextmanager
def _saved(store: Store, upload):
    """The uploaded file, saved inside the database's folder (on PostgreSQL: the backup folder) for as long as it
    is needed, then removed."""
    home = store.path.parent if store.path else backup.folder_of(store)
    home.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="restore-", dir=home))
    candidate = folder / f"candidate{backup.suffix(store)}"
    try:
        candidate.write_bytes(upload.getvalue())
        yield candidate
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def backup_screen(store: Store, lang: str) -> None:
    st.subheader(t("bk.now", lang))
    download_now(store, lang)
    st.subheader(t("bk.daily", lang))
    kept(store, lang)
    st.subheader(t("bk.restore_title", lang))
    restore_from_file(store, lang)
