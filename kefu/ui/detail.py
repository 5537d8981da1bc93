"""A record's detail: its values, personal data revealed on request (and logged), edit, soft delete
with undo, and the record's change history."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from kefu import auth
from kefu.errors import KefuError
from kefu.exporting import Formatter
from kefu.i18n import t
from kefu.sheets import Sheet
from kefu.store import Store
from kefu.ui.form import record_form
from kefu.ui.text import plain

UNDO = "kefu_undo"


def undo_banner(store: Store, actor, lang: str) -> None:
    """After a delete: say so, with an Undo button, until the user moves on."""
    pending = st.session_state.get(UNDO)
    if not pending:
        return
    sheet_name, row_id, title = pending
    columns = st.columns([5, 1])
    columns[0].success(t("sheet.deleted", lang, title=plain(title)), icon=":material/delete:")
    if columns[1].button(t("sheet.undo", lang), key=f"undo_{sheet_name}_{row_id}", icon=":material/undo:",
                         width="stretch"):
        try:
            store.restore(sheet_name, row_id, actor)
            st.toast(t("sheet.restored", lang, title=plain(title)))
        except KefuError as exc:
            st.error(plain(exc.message(lang)))
        st.session_state.pop(UNDO, None)
        st.rerun()


def _reveal_key(sheet: Sheet, row_id: int) -> str:
    return f"reveal__{sheet.name}__{row_id}"


def record_detail(store: Store, sheet: Sheet, actor, lang: str, row_id: int, *, key: str, update=None) -> None:
    """A record's values, edit form (update: the register's own save, see record_form), delete with undo
    and change history."""
    reveal_key = _reveal_key(sheet, row_id)
    revealing = bool(st.session_state.get(reveal_key)) and auth.can(actor, sheet, "pii")
    first_reveal = revealing and not st.session_state.get(reveal_key + "__logged")
    try:
        record = store.get(sheet.name, row_id, actor, reveal=revealing, log=first_reveal)
    except KefuError as exc:
        st.warning(plain(exc.message(lang)))
        return
    st.session_state[reveal_key + "__logged"] = revealing
    title = record.get(sheet.title) or f"#{row_id}"
    formatter = Formatter(store, sheet, lang, actor)
    formatter.prefetch([record])
    with st.container(border=True):
        head = st.columns([3, 1], vertical_alignment="top")
        head[0].subheader(plain(title), anchor=False)
        head[0].caption(_meta_line(store, record, lang))
        if sheet.approval:
            approval_line(store, sheet, actor, lang, record, key=key)
        if sheet.pii_fields and auth.can(actor, sheet, "pii"):
            head[1].toggle(t("sheet.reveal", lang), key=_reveal_key(sheet, row_id), help=t("sheet.reveal_help", lang))
        elif sheet.pii_fields:
            head[1].caption(t("sheet.masked_note", lang))
        tabs = [t("sheet.detail", lang), t("sheet.history", lang)]
        can_edit = auth.can(actor, sheet, "update") and record["deleted_at"] is None
        if can_edit:
            tabs.insert(1, t("sheet.edit", lang))
        panes = st.tabs(tabs)
        with panes[0]:
            _values(sheet, record, formatter, lang)
            if auth.can(actor, sheet, "delete") and record["deleted_at"] is None:
                if st.button(t("sheet.delete", lang), key=f"{key}__delete_{row_id}", icon=":material/delete:"):
                    try:
                        store.delete(sheet.name, row_id, actor)
                        st.session_state[UNDO] = (sheet.name, row_id, title)
                        st.rerun()
                    except KefuError as exc:
                        st.error(plain(exc.message(lang)))
        if can_edit:
            with panes[1]:
                # the reveal state is part of the key: widgets drawn with masked values must not
                # survive into the revealed form, or the mask would be sent back as an edit
                form_key = f"{key}__edit_{row_id}" + ("_clear" if revealing else "")
                result = record_form(store, sheet, actor, lang, key=form_key, record=record, update=update)
                if result is not None:
                    st.toast(t("sheet.saved", lang), icon=":material/check:")
                    st.rerun()
        with panes[-1]:
            history_table(store, sheet, actor, lang, row_id, formatter)


def approval_line(store: Store, sheet: Sheet, actor, lang: str, record: dict, *, key: str) -> None:
    """Where the record stands in its approval, and the approve button for those who may."""
    approval = sheet.approval
    state = record.get(approval.field)
    names = store.user_names()
    last = t("approval.last", lang, who=plain(names.get(record.get(approval.by), "?")),
             at=(record.get(approval.at) or "")[:16].replace("T", " ")) if record.get(approval.by) else ""
    if state == approval.approved:
        st.markdown(f":green-badge[:material/verified: {t('approval.approved', lang)}] {last}")
    elif state == approval.draft:
        text = t("approval.changed" if record.get(approval.by) else "approval.draft", lang)
        st.markdown(f":orange-badge[:material/pending: {text}] {last}")
        if record["deleted_at"] is None and (actor.role in approval.roles or actor.role == "system"):
            if st.button(t("approval.approve", lang), key=f"{key}__approve_{record['id']}", type="primary",
                         icon=":material/task_alt:"):
                try:
                    store.approve(sheet.name, record["id"], actor, expected_version=record["version"])
                    st.toast(t("approval.done", lang), icon=":material/verified:")
                    st.rerun()
                except KefuError as exc:
                    st.error(plain(exc.message(lang)))
    else:
        st.markdown(f":gray-badge[{sheet.by_name[approval.field].choice_label(state, lang)}] {last}")


def _meta_line(store: Store, record: dict, lang: str) -> str:
    names = store.user_names()
    parts = [t("sheet.created_meta", lang, at=record["created_at"][:16].replace("T", " "),
               who=plain(names.get(record.get("created_by"), t("common.system", lang))))]
    if record.get("updated_at"):
        parts.append(t("sheet.updated_meta", lang, at=record["updated_at"][:16].replace("T", " "),
                       who=plain(names.get(record.get("updated_by"), t("common.system", lang)))))
    return " · ".join(parts)


def _values(sheet: Sheet, record: dict, formatter: Formatter, lang: str) -> None:
    """Each field's label and value. Values are user text, so they are shown as plain text: no
    markdown, links or HTML from the database."""
    columns = st.columns(2)
    position = 0
    for field in sheet.fields:
        value = formatter.value(field, record.get(field.name))
        shown = t("common.none", lang) if value in (None, "") else str(value)
        target = st.container() if field.type_name == "longtext" else columns[position % 2]
        if field.type_name != "longtext":
            position += 1
        with target:
            st.markdown(f"**{field.label_in(lang)}**")
            st.text(shown)


def history_table(store: Store, sheet: Sheet, actor, lang: str, row_id: int, formatter: Formatter) -> None:
    entries = store.history(sheet.name, row_id, actor)
    if not entries:
        st.caption(t("sheet.no_history", lang))
        return
    rows = []
    for entry in reversed(entries):
        changes = []
        for name, after in entry["after"].items():
            field = sheet.by_name.get(name)
            if field is None:
                continue
            before = entry["before"].get(name)
            after_text = formatter.value(field, after)
            if entry["action"] == "create":
                if after is not None:
                    changes.append(f"{field.label_in(lang)}: {after_text}")
            else:
                changes.append(f"{field.label_in(lang)}: {formatter.value(field, before) or '—'} → {after_text or '—'}")
        rows.append({t("audit.when", lang): entry["at"][:19].replace("T", " "),
                     t("audit.who", lang): entry["username"],
                     t("audit.action", lang): t(f"audit.{entry['action']}", lang),
                     t("audit.changes", lang): "; ".join(changes)})
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
