"""Permissions (权限一览, administrator): what each role may do in each register and which other screens it
opens, generated from the sheet files and auth.VIEW_ROLES; read-only (a role changes in schema/*.toml).
Static tables: every cell wraps and shows in full, no scrolling sideways."""
import pandas as pd
import streamlit as st

from kefu import admin
from kefu.sheets import ROLES
from kefu.ui import context

OPENS = "✓"


def render() -> None:
    actor = context.screen("permissions", "adm.perm_title", "adm.perm_intro")
    store, tr, lang = context.store(), context.tr, context.lang()
    st.subheader(tr("adm.perm_sheets"), anchor=False)
    sheets = admin.permission_matrix(store, actor, lang)
    st.table(pd.DataFrame({tr("adm.perm_register"): [r["sheet"] for r in sheets],
                           **{tr(f"role.{role}"): [r[role] for r in sheets] for role in ROLES}}), hide_index=True)
    st.caption(tr("adm.own_only_note"))
    st.subheader(tr("adm.perm_views"), anchor=False)
    views = admin.view_matrix(actor, lang)
    st.table(pd.DataFrame({tr("adm.perm_screen"): [r["view"] for r in views],
                           **{tr(f"role.{role}"): [OPENS if r[role] else "" for r in views] for role in ROLES}}),
             hide_index=True)
