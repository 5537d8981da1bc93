"""The privacy screen's parts: the retention of visitors' personal data (its setting, the last run, a run
now), and one person's data on request (search, the records found masked, export, erase after a tick).

The screen never holds a person's data in clear: the search keeps the typed term and the masked list in
the session; the export builds its file from the engine only when the button is clicked (its own thread
and connection), and the erasure searches again, refusing if the records are no longer those listed.
"""
from __future__ import annotations

from datetime import datetime

import pandas as pd
import streamlit as st

from kefu import privacy
from kefu.errors import KefuError
from kefu.exporting import XLSX_MIME
from kefu.i18n import t
from kefu.store import Store
from kefu.ui.text import plain

FOUND = "pv_found"          # {"term", "key", "rows", "people", "counts"} of the last search
DONE = "pv_done"            # the message of the last run or erasure, shown once


def retention(store: Store, actor, lang: str) -> None:
    settings = store.settings
    cutoff = privacy.cutoff_day(store)
    last = privacy.last_run(store)
    figures = st.columns(3)
    figures[0].metric(t("pv.days", lang), t("pv.days_value", lang, days=settings.privacy_visitor_days))
    figures[1].metric(t("pv.last_run", lang), last.at[:16].replace("T", " ") if last else t("pv.never", lang))
    figures[2].metric(t("pv.last_count", lang), t("pv.records", lang, count=f"{last.records:,}") if last else "—")
    due = privacy.due(store, actor)
    st.caption(t("pv.due", lang, count=f"{due:,}", cutoff=cutoff) if due else t("pv.none_due", lang, cutoff=cutoff))
    st.caption(t("pv.settings_line", lang, daily=t("common.yes" if settings.privacy_daily else "common.no", lang)))
    if st.button(t("pv.run", lang), key="pv_run", icon=":material/cleaning_services:", disabled=not due):
        run = privacy.anonymise(store, actor)
        st.session_state[DONE] = t("pv.ran", lang, count=f"{run.records:,}", cutoff=run.cutoff)
        st.rerun()


def search(store: Store, actor, lang: str) -> None:
    st.caption(t("pv.person_help", lang))
    with st.form("pv_search", border=False):
        columns = st.columns([4, 1], vertical_alignment="bottom")
        term = columns[0].text_input(t("pv.term", lang), key="pv_term", max_chars=100)
        asked = columns[1].form_submit_button(t("pv.search", lang), icon=":material/search:", width="stretch")
    if asked:
        st.session_state.pop(FOUND, None)
        try:
            person = privacy.find(store, actor, term)
        except KefuError as exc:
            st.error(plain(exc.message(lang)), icon=":material/error:")
            return
        if not person.found:
            st.info(t("pv.nothing", lang), icon=":material/person_search:")
            return
        st.session_state[FOUND] = {"term": term.strip(), "key": person.key(), "people": person.people,
                                   "rows": privacy.preview(store, person, lang), "counts": person.counts()}
    found = st.session_state.get(FOUND)
    if found:
        records(store, actor, lang, found)


def _counts(store: Store, counts: dict, lang: str) -> str:
    return ("、" if lang == "zh" else ", ").join(t("pv.count_in", lang, sheet=store.sheet(name).label_in(lang), count=n)
                                                for name, n in counts.items())


def records(store: Store, actor, lang: str, found: dict) -> None:
    rows = found["rows"]
    st.markdown(t("pv.found", lang, count=len(rows), counts=_counts(store, found["counts"], lang)))
    table = {
        t("pv.col_sheet", lang): [r["sheet"] for r in rows],
        t("pv.col_id", lang): [r["id"] for r in rows],
        t("pv.col_record", lang): [r["record"] for r in rows],
        t("pv.col_found_by", lang): [r["found_by"] for r in rows],
        t("pv.col_emptied", lang): [r["emptied"] for r in rows],
        t("pv.col_created", lang): [r["created"] for r in rows],
    }
    if any(r["deleted"] for r in rows):                      # deleted records hold personal data too
        table[t("pv.col_deleted", lang)] = [t("common.yes" if r["deleted"] else "common.no", lang) for r in rows]
    st.dataframe(pd.DataFrame(table), hide_index=True, width="stretch", key="pv_records",
        column_config={t("pv.col_id", lang): st.column_config.NumberColumn(width="small", format="%d")})
    if found["people"] > 1:
        st.warning(t("pv.ambiguous", lang, people=found["people"]), icon=":material/group:")
        return
    st.download_button(t("pv.export", lang), icon=":material/download:", key="pv_export", on_click="ignore",
                       data=lambda: privacy.export(store, actor, found["term"], lang, expected=found["key"]),
                       file_name=f"personal-data-{datetime.now(store.settings.tz):%Y%m%d-%H%M%S}.xlsx",
                       mime=XLSX_MIME, help=t("pv.export_help", lang))
    erasable = sum(1 for r in rows if r["emptied"])
    with st.container(border=True):
        st.markdown(f"**{t('pv.erase_title', lang)}**")
        st.caption(t("pv.erase_help", lang))
        sure = st.checkbox(t("pv.confirm", lang, count=erasable), key="pv_sure")
        if st.button(t("pv.erase", lang), type="primary", key="pv_erase", icon=":material/delete_forever:",
                     disabled=not sure or not erasable):
            try:
                erased = privacy.erase(store, actor, found["term"], expected=found["key"])
            except KefuError as exc:
                st.error(plain(exc.message(lang)), icon=":material/error:")
                return
            st.session_state.pop(FOUND, None)
            st.session_state[DONE] = t("pv.erased", lang, count=erased.records,
                                       counts=_counts(store, erased.sheets, lang))
            st.rerun()


def privacy_screen(store: Store, actor, lang: str) -> None:
    done = st.session_state.pop(DONE, None)
    if done:
        st.success(done, icon=":material/check_circle:")
    st.subheader(t("pv.retention", lang), anchor=False)
    retention(store, actor, lang)
    st.subheader(t("pv.person", lang), anchor=False)
    search(store, actor, lang)
