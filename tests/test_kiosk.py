"""The survey kiosk: a URL with the kiosk token shows the survey and nothing else, needs no login, sets
no session, and writes answers as channel "kiosk"; the engine refuses the kiosk identity everything but
adding a survey answer; a wrong, missing, replaced or disabled token leaves the normal login."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from apptest import APP, texts
from kefu import auth, surveys
from kefu.errors import PermissionDenied
from kefu.exporting import csv_bytes
from kefu.store import Query

KIOSK = auth.KIOSK


# -------------------------------------------------------------------------------- the engine's boundary

def test_the_token_opens_the_kiosk_and_nothing_else_does(store, make_user):
    assert auth.kiosk_identity(store, None) is None                       # no kiosk until the admin makes one
    with pytest.raises(PermissionDenied):
        auth.create_kiosk_token(store, make_user("manager"))
    token = auth.create_kiosk_token(store, auth.SYSTEM)
    assert auth.kiosk_identity(store, token) == KIOSK
    stored = store.conn.execute("SELECT value FROM kefu_meta WHERE key = ?", (auth.KIOSK_META,)).fetchone()[0]
    assert token not in stored                                             # only its SHA-256 is kept
    for wrong in ("", "x", token[:-1], token + "x", None, 42, "a" * 500):
        assert auth.kiosk_identity(store, wrong) is None
    newer = auth.create_kiosk_token(store, make_user("admin"))
    assert auth.kiosk_identity(store, token) is None and auth.kiosk_identity(store, newer) == KIOSK
    auth.disable_kiosk(store, auth.SYSTEM)
    assert auth.kiosk_identity(store, newer) is None


def test_the_kiosk_identity_may_only_add_a_survey_answer(store, make_user):
    manager = make_user("manager")
    survey = surveys.submit(store, manager, {"service": 4, "price": 4, "overall": 4})
    for name, sheet in store.sheets.items():
        assert auth.can(KIOSK, sheet, "create") == (name == "surveys"), name
        for action in ("read", "update", "delete", "export", "pii"):
            assert not auth.can(KIOSK, sheet, action), (name, action)
        with pytest.raises(PermissionDenied):
            store.query(name, KIOSK, Query())
        with pytest.raises(PermissionDenied):
            store.get(name, 1, KIOSK)
        with pytest.raises(PermissionDenied):
            list(store.iter_rows(name, KIOSK, Query(), reveal=True))
        with pytest.raises(PermissionDenied):
            csv_bytes(store, name, KIOSK, Query(), "zh")
        if name != "surveys":
            with pytest.raises(PermissionDenied):
                store.insert(name, {}, KIOSK)
    with pytest.raises(PermissionDenied):
        store.update("surveys", survey, {"service": 1}, KIOSK)
    with pytest.raises(PermissionDenied):
        store.delete("surveys", survey, KIOSK)
    with pytest.raises(PermissionDenied):
        store.history("surveys", survey, KIOSK)
    with pytest.raises(PermissionDenied):
        surveys.results(store, KIOSK, "2000-01-01", "2100-01-01")
    with pytest.raises(PermissionDenied):
        store.access_log(KIOSK)
    assert surveys.alerts(store, KIOSK) == []
    assert not any(auth.can_view(KIOSK, view) for view in auth.VIEW_ROLES)
    with pytest.raises(PermissionDenied):
        auth.create_kiosk_token(store, KIOSK)
    with pytest.raises(PermissionDenied):
        auth.create_user(store, "intruder", "x", "admin", "long-enough-1", KIOSK)


def test_a_kiosk_answer_is_anonymous_and_channel_kiosk(store, make_user):
    staff = make_user("staff")
    row_id = surveys.submit(store, KIOSK, {"service": 5, "price": 3, "overall": 4, "comments": "环境整洁",
                                           "channel": "call", "taken_by": staff.id, "member": 1,
                                           "taken_at": "2020-01-01T10:00"})
    row = store.get("surveys", row_id, staff)
    assert (row["channel"], row["taken_by"], row["member"], row["comments"]) == ("kiosk", None, None, "环境整洁")
    assert row["taken_at"][:10] == surveys.office_today(store).isoformat()
    assert store.conn.execute("SELECT username FROM kefu_audit WHERE sheet = 'surveys'").fetchone()[0] == "kiosk"


# -------------------------------------------------------------------------------- the app

@pytest.fixture
def office(store, make_user, monkeypatch):
    """An office with users (so the login applies) and a kiosk token; the app uses its file."""
    make_user("manager")
    monkeypatch.setenv("KEFU_DB", str(store.location))
    return auth.create_kiosk_token(store, auth.SYSTEM)


def app(token: str | None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    if token is not None:
        at.query_params["kiosk"] = token
    return at.run()


def is_survey_only(at: AppTest) -> bool:
    return (at.title and at.title[0].value == "满意度调查" and len(at.radio) == 3 and not at.text_input
            and not at.dataframe and not at.sidebar.children and "无权" not in texts(at))


def test_the_kiosk_page_takes_an_answer_without_login(store, office):
    at = app(office)
    assert not at.exception
    assert is_survey_only(at)
    assert "token" not in at.session_state and "user" not in at.session_state
    submit = next(b for b in at.button if b.label == "提交")
    submit.click().run()                                                   # nothing answered yet
    assert "请回答所有问题" in texts(at) and surveys_written(store) == []
    for radio, score in zip(at.radio, (5, 2, 4)):
        radio.set_value(score)
    at.text_area(key="kiosk_comments").input("希望周末也开放")
    next(b for b in at.button if b.label == "提交").click().run()
    assert not at.exception
    assert "感谢您的宝贵意见！" in texts(at)
    assert surveys_written(store) == [(5, 2, 4, "希望周末也开放", "kiosk", None)]
    assert [r.value for r in at.radio] == [None, None, None]              # ready for the next member
    assert is_survey_only(at)


def surveys_written(store):
    return store.conn.execute("SELECT service, price, overall, comments, channel, taken_by FROM surveys").fetchall()


def test_every_other_url_shows_the_survey_only(store, office):
    at = app(office)
    paths = {info.get("url_pathname") for info in at._registered_pages.values()}
    assert {"customers", "tickets", "members", "users", "reports", "survey_results", "account", "home"} <= paths
    for page_hash, info in list(at._registered_pages.items()):
        at._page_hash = page_hash
        at.run()
        assert not at.exception, info
        assert is_survey_only(at), info.get("url_pathname")


@pytest.mark.parametrize("token", [None, "", "wrong-token"])
def test_without_the_right_token_the_login_applies(store, office, token):
    at = app(token)
    assert not at.exception
    assert at.text_input(key="login_username") is not None
    assert not at.radio


def test_disabled_kiosk_falls_back_to_the_login(store, office):
    auth.disable_kiosk(store, auth.SYSTEM)
    at = app(office)
    assert not at.radio and at.text_input(key="login_username") is not None


def test_the_admin_makes_and_turns_off_the_kiosk_from_the_command_line(store, capsys):
    from kefu import cli
    assert cli.main(["--db", str(store.location), "kiosk-token"]) == 0
    token = capsys.readouterr().out.split("kiosk=")[1].split()[0]
    assert auth.kiosk_identity(store, token) == KIOSK
    assert cli.main(["--db", str(store.location), "kiosk-token", "--off"]) == 0
    assert auth.kiosk_identity(store, token) is None
