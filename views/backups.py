"""Backups (备份与恢复), for the administrator: a backup now, the daily ones kept, restore from a file."""
import streamlit as st

from kefu.ui import context
from kefu.ui.backups import backup_screen


def render() -> None:
    context.require_view("backups")
    st.title(context.tr("bk.title"))
    st.caption(context.tr("bk.intro"))
    backup_screen(context.store(), context.lang())
