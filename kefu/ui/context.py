"""Per-run context for views: the store, the logged-in user, the language, and `tr()` for strings."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from kefu import auth, backup, config, designer, kpi, privacy, rules
from kefu.errors import DatabaseGone, DatabaseUnavailable, MigrationError
from kefu.i18n import t
from kefu.sheets import SchemaError, load_sheets, schema_dir
from kefu.store import Store
from kefu.ui.text import plain


@st.cache_resource(show_spinner=False)
def _open_store(path: str, config_file: str, schema: str) -> Store:
    store = Store(path, load_sheets(Path(schema)), config.load(config_file))
    store.migrate()
    designer.mark_current(store)          # the registers' version; a save elsewhere is picked up by refresh()
    kpi.prepare(store)
    if store.settings.backup_daily:
        backup.keep_daily(store)          # the day's backup, in a thread of its own (kefu/backup.py)
    privacy.check(store)                  # office.toml [privacy] names fields the sheets have
    if store.settings.privacy_daily:
        privacy.keep_daily(store)         # the day's retention run, in a thread of its own (kefu/privacy.py)
    return store


def store() -> Store:
    """The database, migrated once per process. A broken sheet, config or database file stops the
    run with a message that names it, instead of a traceback (and is retried on the next run)."""
    lang = st.session_state.get("lang") or "zh"
    try:
        opened = _open_store(str(config.db_path()), str(config.config_path()), str(schema_dir()))
        designer.refresh(opened)          # a register saved in another session or process: reloaded, no restart
        rules.bring_in_force(opened)      # office rules saved for a later day: written to their file on the day
        return opened
    except SchemaError as exc:
        _stop(t("app.schema_error_title", lang), exc.problems, lang)
    except MigrationError as exc:
        _stop(t("app.db_error_title", lang), exc.problems, lang)
    except DatabaseGone as exc:
        database_gone(exc)
    except DatabaseUnavailable as exc:
        _stop(t("app.db_error_title", lang), [exc.message(lang)], lang,
              help_key="app.db_error_help_url" if isinstance(config.db_path(), str) else "app.db_error_help")
    except config.ConfigError as exc:
        _stop(t("app.db_error_title", lang), [str(exc)], lang)


def _stop(title: str, problems: list[str], lang: str, help_key: str = "app.db_error_help"):
    st.error(f"**{title}**\n\n" + "\n".join(f"- {plain(p)}" for p in problems) + f"\n\n{t(help_key, lang)}")
    st.stop()


def database_gone(exc: DatabaseUnavailable) -> None:
    """The page when the database goes away during a run (app.py): the notice to try again, in place of the rest
    of the page, and nothing else changed. The login lives in the database and in this session, so it holds:
    once the database is back, the next click works. A form keeps what was typed: a run ended by st.stop leaves
    the session's widget values as they were, though the form was not drawn."""
    language = lang()
    if isinstance(exc, DatabaseGone):
        st.warning(exc.message(language), icon=":material/cloud_off:")
    else:                                 # the server answers again but refuses (a password changed meanwhile)
        st.error(exc.message(language), icon=":material/cloud_off:")
    st.button(t("app.db_retry", language), key="kefu_db_retry", icon=":material/refresh:")
    st.stop()


def unless_gone(render):
    """`render` for a fragment that reruns by itself (the live board), outside app.py's guard: the database gone
    shows the notice in its place, and a later rerun draws it again once the database is back."""
    def guarded() -> None:
        try:
            render()
        except DatabaseGone as exc:
            st.warning(exc.message(lang()), icon=":material/cloud_off:")
    guarded.__name__ = guarded.__qualname__ = getattr(render, "__qualname__", "guarded")
    return guarded


def user() -> auth.User | None:
    return st.session_state.get("user")


def lang() -> str:
    chosen = st.session_state.get("lang")
    if chosen:
        return chosen
    current = user()
    if current is not None and current.language:
        return current.language
    return config.load(str(config.config_path())).default_language


def tr(key: str, **params) -> str:
    return t(key, lang(), **params)


def require_view(view: str) -> auth.User:
    """Top of every non-sheet view: stop with a notice unless the role may open it."""
    current = user()
    if not auth.can_view(current, view):
        st.warning(tr("app.not_allowed"))
        st.stop()
    return current


def screen(view: str, title: str, intro: str) -> auth.User:
    """Top of a non-sheet view with a title and a line saying what it is for: the role check first."""
    current = require_view(view)
    st.title(tr(title))
    st.caption(tr(intro))
    return current


def require_sheet(sheet_name: str, action: str = "read") -> auth.User:
    """Top of every sheet view: stop with a notice unless the role may read the sheet."""
    current = user()
    sheet = store().sheets.get(sheet_name)
    if sheet is None or not auth.can(current, sheet, action):
        st.warning(tr("app.not_allowed"))
        st.stop()
    return current
