"""The register designer's screen (表单设计): pick a register or start a new one, edit its name, labels and
fields as a table, its columns, search, filters, order and the role x action grid, preview the form and the
grid as a role sees them, save (kefu/designer.py checks and applies), and the saved versions with their
differences and restore. What was typed stays in the widgets when a save is refused."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from kefu import designer
from kefu.fields import TYPES, mask
from kefu.i18n import label as pick_label, t
from kefu.sheets import ACTIONS, ROLES, SchemaError, load_sheets
from kefu.ui.text import plain
from kefu.ui.widgets import field_input

NEW = "__new__"
DRAFT = "dz_draft"


def _draft(store, name: str) -> dict:
    """The register being designed: its declaration as opened and the file's text then (kept per session)."""
    draft = st.session_state.get(DRAFT)
    if draft is None or draft["picked"] != name:
        text = None if name == NEW else designer.current_text(name)
        data = designer.blank_register() if text is None else designer.declaration(text)
        draft = {"picked": name, "base_text": text, "data": data, "generation": 0}
        st.session_state[DRAFT] = draft
    return draft


def designer_screen(store, actor, lang: str) -> None:
    names = list(store.sheets)
    options = [NEW] + names
    if "dz_pick_next" in st.session_state:                 # the register just saved opens (set before the widget)
        st.session_state["dz_pick"] = st.session_state.pop("dz_pick_next")
    picked = st.selectbox(t("dz.pick", lang), options, key="dz_pick",
                          format_func=lambda n: t("dz.new", lang) if n == NEW else
                          f"{store.sheets[n].label_in(lang)} ({n})")
    draft = _draft(store, picked)
    key = f"dz_{picked}_{draft['generation']}"
    data = draft["data"]
    saved = st.session_state.pop("dz_saved", None)
    notice = st.empty()        # always drawn: when the message goes at the next run, the widgets below keep their
    if saved:                  # place, and the fields table is not drawn anew (losing the cell being edited)
        notice.success(saved, icon=":material/check_circle:")
    locked = designer.locked(picked) if picked != NEW else None
    if locked:
        st.info(t("dz.locked_note", lang, modules=locked[0], fields=", ".join(locked[1])), icon=":material/lock:")

    design, preview, history = st.tabs([t("dz.tab_design", lang), t("dz.tab_preview", lang),
                                        t("dz.tab_history", lang)])
    with design:
        new_data = _design(store, data, picked, key, lang)
        if st.button(t("dz.save", lang), type="primary", key=f"{key}_save", icon=":material/save:"):
            _save(store, actor, draft, new_data, picked, lang)
        _refusal(lang)
    with preview:
        _preview(store, new_data, picked, key, lang)
    with history:
        if picked != NEW:
            _history(store, actor, picked, lang)


def _design(store, data: dict, picked: str, key: str, lang: str) -> dict:
    """Draw the editing widgets; returns the declaration they now say."""
    top = st.columns([2, 2, 2, 2])
    name = top[0].text_input(t("dz.name", lang), value=data.get("name", ""), key=f"{key}_name",
                             disabled=picked != NEW, help=t("dz.name_help", lang))
    label = data.get("label") or {}
    label_en = top[1].text_input(t("dz.label_en", lang), value=label.get("en", ""), key=f"{key}_label_en")
    label_zh = top[2].text_input(t("dz.label_zh", lang), value=label.get("zh", ""), key=f"{key}_label_zh")
    icon = top[3].text_input(t("dz.icon", lang), value=data.get("icon", ":material/table:"), key=f"{key}_icon",
                             help=t("dz.icon_help", lang))

    st.subheader(t("dz.fields", lang))
    st.caption(t("dz.fields_help", lang))
    rows = designer.rows_from_fields(data.get("fields", []))
    locked = set(designer.locked(picked)[1]) if designer.locked(picked) else set()
    frame = pd.DataFrame(rows, columns=list(designer.ROW_KEYS))
    frame.insert(0, "position", range(1, len(frame) + 1))
    frame.insert(1, "locked", [n in locked for n in frame["name"]])
    others = sorted(store.sheets)
    column = st.column_config
    edited = st.data_editor(
        frame, key=f"{key}_fields", num_rows="dynamic", hide_index=True, width="stretch", placeholder="",
        column_config={
            "position": column.NumberColumn(t("dz.col_position", lang), step=1, help=t("dz.position_help", lang)),
            "locked": column.CheckboxColumn(t("dz.col_locked", lang), disabled=True, help=t("dz.locked_help", lang)),
            "name": column.TextColumn(t("dz.col_name", lang), required=True),
            "type": column.SelectboxColumn(t("dz.col_type", lang), options=list(TYPES), required=True),
            "label_en": column.TextColumn(t("dz.label_en", lang)),
            "label_zh": column.TextColumn(t("dz.label_zh", lang)),
            "help_en": column.TextColumn(t("dz.col_help_en", lang)),
            "help_zh": column.TextColumn(t("dz.col_help_zh", lang)),
            "required": column.CheckboxColumn(t("dz.col_required", lang), default=False),
            "pii": column.CheckboxColumn(t("dz.col_pii", lang), default=False, help=t("dz.pii_help", lang)),
            "unique": column.CheckboxColumn(t("dz.col_unique", lang), default=False),
            "index": column.CheckboxColumn(t("dz.col_index", lang), default=False),
            "readonly": column.CheckboxColumn(t("dz.col_readonly", lang), default=False),
            "max_length": column.NumberColumn(t("dz.col_max_length", lang), min_value=1, step=1),
            "pattern": column.TextColumn(t("dz.col_pattern", lang)),
            "min": column.NumberColumn(t("dz.col_min", lang)),
            "max": column.NumberColumn(t("dz.col_max", lang)),
            "choices": column.TextColumn(t("dz.col_choices", lang), help=t("dz.choices_help", lang), width="large"),
            "sheet": column.SelectboxColumn(t("dz.col_sheet", lang), options=others),
            "default": column.TextColumn(t("dz.col_default", lang)),
            "not_before": column.TextColumn(t("dz.col_not_before", lang)),
        })
    table = edited.to_dict("records")
    table.sort(key=lambda r: (r.get("position") is None or r.get("position") != r.get("position"),
                              r.get("position") or 0))
    fields = designer.fields_from_rows(table, data.get("fields", []))
    names = [f["name"] for f in fields if f.get("name")]
    by_name = {f["name"]: pick_label(f.get("label"), lang) for f in fields if f.get("name")}

    def labelled(name: str) -> str:
        return f"{by_name.get(name) or name} ({name})" if by_name.get(name) else name

    st.subheader(t("dz.layout", lang))
    cols = st.columns(2)
    listed = cols[0].multiselect(t("dz.list", lang), names, default=[n for n in data.get("list", []) if n in names],
                                 key=f"{key}_list", help=t("dz.list_help", lang),
                                 placeholder=t("dz.choose", lang), format_func=labelled)
    searched = cols[1].multiselect(t("dz.search", lang), names,
                                   default=[n for n in data.get("search", []) if n in names], key=f"{key}_search",
                                 placeholder=t("dz.choose", lang), format_func=labelled)
    filters = cols[0].multiselect(t("dz.filters", lang), names,
                                  default=[n for n in data.get("filters", []) if n in names], key=f"{key}_filters",
                                 placeholder=t("dz.choose", lang), format_func=labelled)
    pinyin = cols[1].multiselect(t("dz.pinyin", lang), names,
                                 default=[n for n in data.get("pinyin", []) if n in names], key=f"{key}_pinyin",
                                 placeholder=t("dz.choose", lang), format_func=labelled)
    order = data.get("order", "-id")
    order_names = ["id", "created_at", *names]
    order_field = cols[0].selectbox(t("dz.order", lang), order_names,
                                    index=order_names.index(order.lstrip("-")) if order.lstrip("-") in order_names
                                    else 0, key=f"{key}_order", format_func=labelled)
    descending = cols[1].checkbox(t("dz.descending", lang), value=order.startswith("-"), key=f"{key}_desc")

    st.subheader(t("dz.permissions", lang))
    st.caption(t("dz.permissions_help", lang))
    permissions = data.get("permissions", {})
    grid = pd.DataFrame([{"role": role, "role_label": t(f"role.{role}", lang),
                          **{a: a in permissions.get(role, []) for a in ACTIONS}} for role in ROLES])
    granted = st.data_editor(grid, key=f"{key}_permissions", hide_index=True, disabled=["role", "role_label"],
                             column_order=["role_label", *ACTIONS],
                             column_config={"role_label": st.column_config.TextColumn(t("dz.role", lang)),
                                            **{a: st.column_config.CheckboxColumn(t(f"dz.action_{a}", lang))
                                               for a in ACTIONS}})

    new_data = {k: v for k, v in data.items() if k not in ("fields", "permissions")}
    new_data.update(name=name.strip(), label={"en": label_en.strip(), "zh": label_zh.strip()}, icon=icon.strip())
    for key_name, chosen in (("list", listed), ("search", searched), ("filters", filters), ("pinyin", pinyin)):
        if chosen or key_name in data:
            new_data[key_name] = chosen
    new_order = ("-" if descending else "") + order_field
    if new_order != "-id" or "order" in data:
        new_data["order"] = new_order
    rights = {}
    for row in granted.to_dict("records"):
        actions = [a for a in ACTIONS if row.get(a) is True]
        if actions:
            rights[row["role"]] = actions
    new_data["permissions"] = rights
    new_data["fields"] = fields
    return new_data


def _save(store, actor, draft: dict, new_data: dict, picked: str, lang: str) -> None:
    st.session_state.pop("dz_refusal", None)
    try:
        text = designer.to_toml(new_data, draft["base_text"])
        plan = designer.apply(store, actor, text, base_text=draft["base_text"], new=picked == NEW)
    except designer.DesignRefused as exc:
        labels = {f.get("name"): pick_label(f.get("label"), lang) for f in new_data.get("fields", [])}
        if picked in store.sheets:
            labels.update({f.name: f.label_in(lang) for f in store.sheets[picked].fields})
        st.session_state["dz_refusal"] = {"kind": exc.kind, "messages": exc.messages(lang, labels), "diff": exc.diff}
        return
    except ValueError as exc:
        st.session_state["dz_refusal"] = {"kind": "invalid", "messages": [str(exc)], "diff": ""}
        return
    version = plan.version.version if plan.version else None
    st.session_state["dz_saved"] = t("dz.saved", lang, name=plan.name, version=version or "—")
    st.session_state.pop(DRAFT, None)
    st.session_state["dz_pick_next"] = plan.name
    st.rerun()


def _refusal(lang: str) -> None:
    refusal = st.session_state.get("dz_refusal")
    if not refusal:
        return
    st.error(t(f"dz.refused_{refusal['kind']}", lang) + "\n\n" + "\n".join(f"- {plain(m)}" for m in refusal["messages"]),
             icon=":material/block:")
    if refusal["diff"]:
        st.caption(t("dz.their_changes", lang))
        st.code(refusal["diff"], language="diff")


def _candidate(store, data: dict, picked: str):
    """The register as the loader reads it now (None with its problems if it does not load)."""
    name = data.get("name") or "new_register"
    try:
        sheets = load_sheets(None, texts={name: designer.to_toml({**data, "name": name})})
    except SchemaError as exc:
        return None, exc.problems
    except ValueError as exc:
        return None, [str(exc)]
    return sheets.get(name), []


def _preview(store, data: dict, picked: str, key: str, lang: str) -> None:
    role = st.selectbox(t("dz.preview_role", lang), ROLES, key=f"{key}_preview_role",
                        format_func=lambda r: t(f"role.{r}", lang))
    sheet, problems = _candidate(store, data, picked)
    if sheet is None:
        st.warning(t("dz.preview_broken", lang) + "\n\n" + "\n".join(
            f"- {plain(p.in_lang(lang) if hasattr(p, 'in_lang') else p)}" for p in problems[:8]))
        return
    if not sheet.allows(role, "read"):
        st.info(t("dz.preview_no_read", lang, role=t(f"role.{role}", lang)))
        return
    st.markdown(f"#### {plain(sheet.label_in(lang))}")
    st.caption(t("dz.preview_grid", lang))
    sample = {}
    for field in sheet.fields:
        value = _sample(field, lang)
        if field.pii and not sheet.allows(role, "pii"):
            value = mask(value)
        sample[field.label_in(lang)] = value
    columns = [sheet.by_name[n].label_in(lang) for n in sheet.columns if n in sheet.by_name]
    st.dataframe(pd.DataFrame([{c: sample.get(c) for c in columns}]), hide_index=True, width="stretch")
    st.caption(t("dz.preview_form", lang))
    if not sheet.allows(role, "create"):
        st.info(t("dz.preview_no_create", lang, role=t(f"role.{role}", lang)))
        return
    with st.container(border=True):
        cells = st.columns(2)
        for position, field in enumerate(f for f in sheet.fields if not f.readonly):
            with cells[position % 2]:
                if field.type_name in ("ref", "user"):
                    st.selectbox(field.label_in(lang) + (" *" if field.required else ""), [], disabled=True,
                                 key=f"{key}_pv_{field.name}", help=field.help_in(lang))
                else:
                    field_input(field, [] if field.type_name == "multichoice" else field.default,
                                key=f"{key}_pv_{field.name}", lang=lang, store=store, disabled=True, in_form=False)


def _sample(field, lang: str):
    """A made-up value for the preview's grid row."""
    kind = field.type_name
    if kind in ("choice", "multichoice"):
        return field.choice_label(field.choices[0]["value"], lang) if field.choices else ""
    return {"phone": "13812345678", "email": "li.lei@example.com", "date": "2026-11-02",
            "datetime": "2026-11-02 09:30", "int": 3, "number": 2.5, "money": "128.00", "bool": True,
            "rating": "★★★★", "url": "https://example.com", "ref": "#1", "user": "王小丽"}.get(
        kind, field.label_in(lang))


def _history(store, actor, name: str, lang: str) -> None:
    found = designer.history(store, name)
    if not found:
        st.info(t("dz.no_history", lang))
        return
    st.dataframe(pd.DataFrame([{t("dz.col_version", lang): v.version, t("dz.col_saved_at", lang): v.saved_at,
                                t("dz.col_saved_by", lang): v.saved_by_name, t("dz.col_note", lang): v.note}
                               for v in found]), hide_index=True, width="stretch")
    chosen = st.selectbox(t("dz.pick_version", lang), [v.version for v in found], key=f"dz_{name}_version")
    st.code(designer.compare(store, name, chosen) or t("dz.no_difference", lang), language="diff")
    if st.button(t("dz.restore", lang, version=chosen), key=f"dz_{name}_restore", icon=":material/restore:"):
        try:
            plan = designer.restore(store, actor, name, chosen)
        except designer.DesignRefused as exc:
            labels = {f.name: f.label_in(lang) for f in store.sheets[name].fields} if name in store.sheets else {}
            st.error(t(f"dz.refused_{exc.kind}", lang) + "\n\n" + "\n".join(
                f"- {plain(m)}" for m in exc.messages(lang, labels)), icon=":material/block:")
            return
        st.session_state.pop(DRAFT, None)
        st.session_state["dz_saved"] = t("dz.restored", lang, version=chosen,
                                         new=plan.version.version if plan.version else "—")
        st.rerun()
