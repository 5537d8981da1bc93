"""Import (导入数据): bring a CSV or Excel file into a register, checked row by row, all or nothing."""
import streamlit as st

from kefu.ui import context
from kefu.ui.importer import import_screen


def render() -> None:
    actor = context.require_view("imports")
    store, lang = context.store(), context.lang()
    st.title(context.tr("im.title"))
    st.caption(context.tr("im.intro"))
    import_screen(store, actor, lang)
