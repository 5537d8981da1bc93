"""kefu/versions.py: every saved version kept, numbered, audited; the hand-written file kept as version 1."""
import pytest

from kefu import versions


@pytest.fixture
def manager(make_user):
    return make_user("manager")


def test_first_save_keeps_the_hand_written_file_then_numbers_on(store, manager):
    with store.transaction() as conn:
        saved = versions.record(store, conn, manager, "rules", "kpi", "b = 2\n", previous="a = 1\n")
    assert saved.version == 2
    with store.transaction() as conn:
        versions.record(store, conn, manager, "rules", "kpi", "c = 3\n", previous="b = 2\n")
    found = versions.history(store, "rules", "kpi")
    assert [(v.version, v.body, v.saved_by_name) for v in found] == [
        (3, "c = 3\n", manager.username), (2, "b = 2\n", manager.username), (1, "a = 1\n", "system")]
    assert versions.get(store, "rules", "kpi", 1).note == "hand-written file"
    assert versions.names(store, "rules") == ["kpi"]
    audited = store.conn.execute("SELECT action, username FROM kefu_audit WHERE sheet = 'kefu_rules'").fetchall()
    assert audited == [("rules_saved", manager.username)] * 2


def test_a_refused_save_keeps_no_version(store, manager):
    try:
        with store.transaction() as conn:
            versions.record(store, conn, manager, "sheet", "umbrellas", "name = 'umbrellas'\n")
            raise RuntimeError("the migration failed")
    except RuntimeError:
        pass
    assert versions.history(store, "sheet", "umbrellas") == []
