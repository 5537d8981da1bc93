"""The survey kiosk (自助终端): the member rates service quality, price and the company overall, with no
login. app.py shows this page, and only this page, at every URL when the URL carries the kiosk token;
the engine lets the kiosk identity do nothing but add a survey answer (kefu.auth.KIOSK_RIGHTS)."""
from __future__ import annotations

import streamlit as st

from kefu import auth, surveys
from kefu.i18n import t
from kefu.sheets import ValidationError
from kefu.ui import context, session
from kefu.ui.widgets import error_list

TOKEN_PARAM = "kiosk"
# The kiosk is a public screen: no Streamlit header, toolbar, main menu (settings, print, ...) or deploy
# button. The staff app keeps its own (this page alone draws the style).
KIOSK_STYLE = """<style>
header[data-testid="stHeader"], [data-testid="stToolbar"], [data-testid="stMainMenu"],
[data-testid="stDecoration"], [data-testid="stAppDeployButton"], [data-testid="stStatusWidget"] {
    display: none !important;
}
</style>"""


def identity(store) -> auth.User | None:
    """The kiosk identity when this browser session came with the right kiosk token, else None."""
    token = st.query_params.get(TOKEN_PARAM) or st.session_state.get("kiosk_token")
    found = auth.kiosk_identity(store, token)
    if found is None:
        st.session_state.pop("kiosk_token", None)
        return None
    st.session_state["kiosk_token"] = token
    return found


def render(store, kiosk: auth.User) -> None:
    st.html(KIOSK_STYLE)
    lang = context.lang()
    sheet = store.sheet(surveys.SHEET)
    st.title(t("kiosk.title", lang))
    st.caption(t("kiosk.intro", lang))
    if st.session_state.pop("kiosk_thanks", False):
        st.success(t("kiosk.thanks", lang), icon=":material/favorite:")
    generation = st.session_state.setdefault("kiosk_generation", 0)
    with st.form(f"kiosk_survey_{generation}", enter_to_submit=False):
        answers = {q: st.radio(sheet.by_name[q].label_in(lang), [1, 2, 3, 4, 5], index=None, horizontal=True,
                               format_func=lambda v: f"{v} " + "★" * v, key=f"kiosk_{q}")
                   for q in surveys.QUESTIONS}
        answers["comments"] = st.text_area(sheet.by_name["comments"].label_in(lang), max_chars=1000,
                                           key="kiosk_comments")
        sent = st.form_submit_button(t("kiosk.submit", lang), type="primary", width="stretch")
    if sent:
        try:
            surveys.submit(store, kiosk, {k: v for k, v in answers.items() if v not in (None, "")})
        except ValidationError as exc:
            error_list(t("kiosk.fix", lang), exc.messages(lang))
        else:
            for name in [*(f"kiosk_{q}" for q in surveys.QUESTIONS), "kiosk_comments"]:
                st.session_state.pop(name, None)
            st.session_state["kiosk_generation"] = generation + 1
            st.session_state["kiosk_thanks"] = True
            st.rerun()
    session.language_switch(store, None)
