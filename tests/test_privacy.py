"""Personal-data retention (kefu/privacy.py): a visit's ID number and phone emptied after the retention period
and not before, counts and statistics unchanged, no copy left in the audit, the search indexes or the file;
one person's data exported (every record, logged) and erased (audited without values) on request, by the
administrator only."""
import io
import json
from datetime import date, datetime, time, timedelta

import pytest
from openpyxl import load_workbook

from kefu import admin, auth, cli, club, config, kpi, privacy, tickets
from kefu.errors import PermissionDenied
from kefu.store import REDACTED, Query
from conftest import ASKED

ID_NUMBER = "11010519491231002X"
PHONE = "13912345678"
TODAY = date(2026, 12, 1)


@pytest.fixture
def people(store):
    """An administrator, a staff member and a manager (accounts without a password: no slow hashing)."""
    made = {}
    for number, role in enumerate(("admin", "staff", "manager"), 1):
        made[role] = auth.get_user(store, auth.create_user(store, f"{role}{number}", f"{role} {number}", role, None,
                                                           auth.SYSTEM))
    return made


def visit(store, host, days_ago: int, *, name="林晓燕", phone=PHONE, id_number=ID_NUMBER, purpose="business",
          hour=10) -> int:
    arrived = datetime.combine(TODAY - timedelta(days=days_ago), time(hour, 30), store.settings.tz)
    return store.insert("visitors", {"visitor_name": name, "phone": phone, "id_number": id_number, "purpose": purpose,
                                     "host": host.id, **ASKED, "organisation": "海棠湾酒店", "arrived_at": arrived},
                        auth.SYSTEM)


def row(store, table, row_id) -> dict:
    cursor = store.conn.execute(f"SELECT * FROM {table} WHERE id = ?", (row_id,))
    return dict(zip([d[0] for d in cursor.description], cursor.fetchone()))


def audit_text(store, sheet, row_id) -> str:
    return json.dumps(store.conn.execute("SELECT before, after FROM kefu_audit WHERE sheet = ? AND row_id = ?",
                                         (sheet, row_id)).fetchall(), ensure_ascii=False)


def file_bytes(store) -> bytes:
    """What the store keeps on disk. SQLite: the file, its free pages and its log. PostgreSQL (pageinspect): every
    row version on the pages of every table and TOAST table, live or dead, and every B-tree index entry. (VACUUM
    frees an old version's space without zeroing it, and the server's own log is not the database's: those stay
    PostgreSQL's, as the README says.)"""
    if store.path:
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return b"".join(path.read_bytes() for path in store.path.parent.glob(store.path.name + "*"))
    import psycopg
    conn = store.conn
    conn.native("CREATE EXTENSION IF NOT EXISTS pageinspect")
    relations = conn.native(
        "SELECT c.oid::regclass::text, c.relkind, a.amname, pg_relation_size(c.oid) / current_setting('block_size')::int "
        "FROM pg_class c LEFT JOIN pg_am a ON a.oid = c.relam WHERE c.relkind IN ('r', 't', 'i') "
        "AND c.relnamespace IN (current_schema()::regnamespace, 'pg_toast'::regnamespace)").fetchall()
    assert any(name == "visitors" for name, *_ in relations)
    found = []
    for name, kind, method, blocks in relations:
        if kind in ("r", "t"):
            for block in range(blocks):
                found += [r[0] for r in conn.native("SELECT t_data FROM heap_page_items(get_raw_page(%s, %s::int)) "
                                                    "WHERE t_data IS NOT NULL", (name, block)).fetchall()]
        elif method == "btree":
            for block in range(1, blocks):                # block 0: the index's meta page
                try:
                    found += [bytes.fromhex(r[0].replace(" ", "")) for r in conn.native(
                        "SELECT data FROM bt_page_items(%s, %s::int) WHERE data IS NOT NULL", (name, block)).fetchall()]
                except psycopg.Error:                     # a page the index has deleted: no entries
                    pass
    return b"\n".join(found)


def test_a_visit_loses_its_id_number_and_phone_after_the_period_and_not_before(store, people):
    host = people["manager"]
    old, edge, recent = visit(store, host, 181), visit(store, host, 180), visit(store, host, 10, phone="13612345678")
    expected = store.insert("visitors", {"visitor_name": "周先生", "phone": "13512345678", "purpose": "inquiry",
                                         "host": host.id, "appointment_at": "2026-05-20 10:00"}, auth.SYSTEM)
    assert privacy.due(store, people["admin"], today=TODAY) == 2
    run = privacy.anonymise(store, people["admin"], today=TODAY)
    assert (run.records, run.cutoff, run.days) == (2, "2026-06-04", 180)
    for gone in (old, expected):                              # an appointment that never arrived: by its day
        assert (row(store, "visitors", gone)["phone"], row(store, "visitors", gone)["id_number"]) == (None, None)
    kept = row(store, "visitors", old)
    assert kept["visitor_name"] == "林晓燕" and kept["purpose"] == "business" and kept["arrived_at"]
    for still in (edge, recent):
        assert row(store, "visitors", still)["id_number"] == ID_NUMBER
    assert privacy.last_run(store).records == 2


def test_counts_and_statistics_do_not_change(store, people):
    host = people["manager"]
    for days_ago, purpose, hour in ((200, "business", 9), (200, "complaint", 10), (190, "business", 14),
                                    (30, "inquiry", 10), (5, "business", 16)):
        visit(store, host, days_ago, purpose=purpose, hour=hour, phone=f"1391234{days_ago:02d}{hour:02d}"[:11])
    manager, first, last = people["manager"], TODAY - timedelta(days=365), TODAY + timedelta(days=1)

    def statistics():
        split = kpi.breakdown(store, manager, first, last)
        return (store.query("visitors", manager).total, kpi.figures(store, manager, first, last).visitors,
                split.visits_by_purpose, split.visits_by_hour,
                store.query("visitors", manager, Query(filters={"purpose": "business"})).total)

    before = statistics()
    assert privacy.anonymise(store, people["admin"], today=TODAY).records == 3
    assert statistics() == before and before[0] == 5 and before[2]["business"] == 3


def test_no_copy_is_left_in_the_audit_the_search_or_the_file(store, people):
    host, manager = people["manager"], people["manager"]
    old = visit(store, host, 300)
    store.update("visitors", old, {"phone": "13812340000"}, manager)       # the old number stays in the trail
    assert store.query("visitors", manager, Query(search=PHONE)).total == 0
    assert store.query("visitors", manager, Query(search="13812340000")).total == 1
    privacy.anonymise(store, people["admin"], today=TODAY)
    trail = audit_text(store, "visitors", old)
    assert ID_NUMBER not in trail and PHONE not in trail and "13812340000" not in trail and REDACTED in trail
    for term in ("13812340000", "0000", "1381", "1101051949"):
        assert store.query("visitors", manager, Query(search=term)).total == 0, term
    assert store.query("visitors", manager, Query(search="林晓燕")).total == 1     # the name is still found
    raw = file_bytes(store)                   # SQLite's file and log; every row version PostgreSQL keeps
    assert ID_NUMBER.encode() not in raw and PHONE.encode() not in raw and b"13812340000" not in raw
    history = store.history("visitors", old, manager)
    assert history[-1]["action"] == "anonymise" and history[-1]["after"] == {"phone": None, "id_number": None}
    entry_id = store.conn.execute("SELECT max(id) FROM kefu_audit WHERE sheet = 'visitors'").fetchone()[0]
    entry = admin.audit_entry(store, people["admin"], entry_id, "zh")
    assert entry.action_label == "到期清除个人信息" and entry.username == "admin1"
    assert entry.changes == [("联系电话", "***", ""), ("身份证号", "***", "")]
    summary = admin.audit_page(store, people["admin"], admin.AuditFilter(sheet="kefu_privacy"), "zh").rows[0]
    assert summary["sheet_label"] == "个人信息保护" and summary["action_label"] == "到期清除个人信息"
    shown = admin.audit_entry(store, people["admin"], summary["id"], "zh").changes
    assert ("登记簿", "", "来访登记") in shown and ("记录数", "", "1") in shown


def test_a_run_is_idempotent_batched_and_catches_a_value_typed_in_again(store, people):
    host = people["manager"]
    ids = [visit(store, host, 200 + n, phone=f"1371234567{n}") for n in range(5)]
    assert privacy.anonymise(store, people["admin"], today=TODAY, batch=2).records == 5
    audited = store.conn.execute("SELECT count(*) FROM kefu_audit").fetchone()[0]
    versions = [row(store, "visitors", i)["version"] for i in ids]
    assert privacy.anonymise(store, auth.SYSTEM, today=TODAY).records == 0
    assert store.conn.execute("SELECT count(*) FROM kefu_audit").fetchone()[0] == audited
    assert [row(store, "visitors", i)["version"] for i in ids] == versions
    store.update("visitors", ids[0], {"phone": PHONE}, people["manager"])
    assert privacy.anonymise(store, auth.SYSTEM, today=TODAY).records == 1
    assert privacy.daily(store, today=TODAY) is None                        # already ran today
    assert privacy.daily(store, today=TODAY + timedelta(days=1)).records == 0


def test_only_the_admin_and_the_system_may(store, people):
    visit(store, people["manager"], 300)
    for role in ("staff", "manager"):
        someone = people[role]
        for attempt in (lambda: privacy.anonymise(store, someone), lambda: privacy.due(store, someone),
                        lambda: privacy.find(store, someone, PHONE), lambda: privacy.erase(store, someone, PHONE),
                        lambda: privacy.export(store, someone, PHONE, "zh")):
            with pytest.raises(PermissionDenied):
                attempt()
    gm = auth.User(id=99, username="gm", display_name="GM", role="gm")
    with pytest.raises(PermissionDenied):
        store.clear_personal("visitors", [1], ["phone"], gm, action="erase")
    with pytest.raises(PermissionDenied):                                  # the store takes only the engine's identity
        store.clear_personal("visitors", [1], ["phone"], people["admin"], action="erase")
    assert row(store, "visitors", 1)["phone"] == PHONE


@pytest.fixture
def person(store, people):
    """林晓燕 in four registers: two visits, a call, her own customer archive (with a membership and a
    transaction), and the archive of a company she is the contact of; and someone else's visit. The manager keeps
    both archives (only an archive's keeper and the gm read it, so only they can enrol it or record a deal)."""
    staff, manager = people["staff"], people["manager"]
    visits = [visit(store, manager, 20), visit(store, manager, 3, id_number=None)]
    ticket = tickets.intake(store, staff, {"channel": "hotline", "kind": "inquiry", "category": "billing",
                                           "severity": "normal", "caller_name": "林女士", "caller_phone": PHONE,
                                           "subject": "询问账单"})
    own = store.insert("customers", {"code": "KH9001", "name": "林晓燕", "kind": "person", "mobile": PHONE,
                                     "id_number": ID_NUMBER, "address": "三亚市吉阳区 8 号", "credit_rating": "A",
                                     "owner": manager.id}, manager)
    company = store.insert("customers", {"code": "KH9002", "name": "海棠湾酒店", "kind": "company", "contact": "林晓燕",
                                         "phone": "089888886666", "credit_rating": "A", "owner": manager.id}, manager)
    member = club.enrol(store, manager, {"customer": own, "status": "active", "joined_on": "2026-01-05"})
    deal = store.insert("transactions", {"customer": own, "traded_on": "2026-03-01", "item": "年度维保",
                                         "amount": "1200.00"}, manager)
    other = visit(store, manager, 4, name="王强", phone="13712345678", id_number=None)
    return {"visits": visits, "ticket": ticket, "own": own, "company": company, "member": member, "deal": deal,
            "other": other}


def test_one_persons_records_are_found_by_phone_and_exported_with_what_belongs_to_them(store, people, person):
    administrator = people["admin"]
    found = privacy.find(store, administrator, PHONE)
    steps = store.conn.execute("SELECT id FROM ticket_events WHERE ticket = ?", (person["ticket"],)).fetchall()
    assert sorted(found.key()) == sorted([["visitors", v] for v in person["visits"]] + [
        ["tickets", person["ticket"]], ["customers", person["own"]], ["members", person["member"]],
        ["transactions", person["deal"]], *[["ticket_events", step] for step, in steps]])   # not the company
    assert len(steps) == 1
    listed = privacy.preview(store, found, "zh")
    assert PHONE not in json.dumps(listed, ensure_ascii=False) and "林晓燕" not in json.dumps(listed, ensure_ascii=False)
    by_id = {(r["sheet"], r["id"]): r for r in listed}
    assert by_id[("客户档案", person["own"])]["found_by"] == "相符：手机"
    assert by_id[("客户档案", person["own"])]["emptied"] == "客户名称、手机、地址、证件号码"
    assert by_id[("客户会会员", person["member"])]["found_by"] == f"关联：客户档案 #{person['own']}"
    assert by_id[("来访登记", person["visits"][1])]["emptied"] == "来访人姓名、联系电话"

    book = load_workbook(io.BytesIO(privacy.export(store, administrator, PHONE, "zh", expected=found.key())))
    assert book.sheetnames == ["概览", "客户档案", "投诉咨询建议", "来访登记", "客户会会员", "工单流转记录", "交易记录"]
    assert [[c.value for c in r] for r in book["概览"].iter_rows()][:2] == [["登记簿", "记录数"], ["客户档案", 1]]
    visits = [[c.value for c in r] for r in book["来访登记"].iter_rows()]
    assert visits[0][:2] == ["编号", "来访人姓名"] and visits[0][-1] == "查找依据"
    assert [r[0] for r in visits[1:]] == person["visits"] and all(PHONE in r and "林晓燕" in r for r in visits[1:])
    assert ID_NUMBER in visits[1] and visits[1][-1] == "相符：联系电话"
    own = [c.value for c in book["客户档案"][2]]                       # an archive leaves only with the GM's word
    assert own[:4] == [person["own"], "KH9001", "林**", "个人"] and PHONE not in own
    assert "总经理授权" in [[c.value for c in r] for r in book["概览"].iter_rows()][-1][0]
    logged = store.conn.execute("SELECT username, sheet, action, detail FROM kefu_access_log ORDER BY id").fetchall()
    registers = ["customers", "tickets", "visitors", "members", "ticket_events", "transactions"]
    assert [(u, s, a) for u, s, a, _ in logged] == [("admin1", s, "export") for s in registers]
    assert json.loads(logged[2][3]) == {"rows": 2, "masked": False}
    assert json.loads(logged[0][3]) == {"rows": 1, "masked": True}
    exported = store.conn.execute("SELECT username, after FROM kefu_audit WHERE action = 'person_export'").fetchall()
    assert exported == [("admin1", json.dumps({"sheets": registers, "records": 7}))]
    assert PHONE not in exported[0][1]


def test_erasure_empties_the_persons_fields_everywhere_audited_without_values(store, people, person):
    administrator, manager = people["admin"], people["manager"]
    counted = store.query("visitors", manager).total
    erased = privacy.erase(store, administrator, ID_NUMBER)
    assert erased.sheets == {"visitors": 1, "customers": 1}                # found by the ID number: these two
    first = row(store, "visitors", person["visits"][0])
    assert (first["visitor_name"], first["phone"], first["id_number"], first["purpose"]) == (None, None, None, "business")
    own = row(store, "customers", person["own"])
    assert (own["name"], own["mobile"], own["address"], own["code"], own["credit_rating"]) == (None, None, None, "KH9001", "A")
    assert "lin" not in (own["search_pinyin"] or "")
    assert row(store, "members", person["member"])["customer"] == person["own"]     # the membership stays
    assert store.query("visitors", manager).total == counted

    erased = privacy.erase(store, administrator, PHONE)                    # her other visit, her call, still by phone
    assert erased.sheets == {"visitors": 1, "tickets": 1}
    assert row(store, "tickets", person["ticket"])["caller_phone"] is None
    assert row(store, "visitors", person["other"])["phone"] == "13712345678"           # someone else: untouched
    assert row(store, "customers", person["company"])["contact"] == "林晓燕"             # not found by phone or ID
    for sheet, row_id in (("visitors", person["visits"][0]), ("customers", person["own"]), ("tickets", person["ticket"])):
        trail = audit_text(store, sheet, row_id)
        assert PHONE not in trail and ID_NUMBER not in trail and "林晓燕" not in trail
    summaries = store.conn.execute("SELECT username, row_id, before, after FROM kefu_audit WHERE sheet = 'kefu_privacy' "
                                   "AND action = 'person_erase' ORDER BY id").fetchall()
    assert summaries[0] == ("admin1", None, None, json.dumps({"sheets": ["customers", "visitors"], "records": 2}))
    raw = file_bytes(store)                   # SQLite's file and log; every row version PostgreSQL keeps
    assert PHONE.encode() not in raw and ID_NUMBER.encode() not in raw
    with pytest.raises(privacy.PrivacyRefused) as refused:
        privacy.erase(store, administrator, PHONE)
    assert refused.value.message("zh") == "没有找到与此身份证号、联系电话、电子邮箱或姓名相符的记录。"


def test_a_name_of_several_people_an_unknown_term_and_a_changed_list_are_refused(store, people, person):
    administrator = people["admin"]
    for term, code in (("查无此人", "pv.nothing"), ("林", "pv.term_short")):
        with pytest.raises(privacy.PrivacyRefused) as refused:
            privacy.export(store, administrator, term, "zh")
        assert refused.value.code == code
    by_name = privacy.find(store, administrator, "林晓燕")                 # her visits, her archive, the company contact
    assert by_name.people == 1 and {m.sheet for m in by_name.found} == {"visitors", "customers"}
    visit(store, people["manager"], 2, phone="13612349999", id_number=None)   # another 林晓燕
    assert privacy.find(store, administrator, "林晓燕").ambiguous
    with pytest.raises(privacy.PrivacyRefused) as refused:
        privacy.erase(store, administrator, "林晓燕")
    assert refused.value.code == "pv.ambiguous" and "2 位不同的人" in refused.value.message("zh")
    before = privacy.find(store, administrator, PHONE).key()
    visit(store, people["manager"], 1, id_number=None)                     # a new visit since the list was shown
    with pytest.raises(privacy.PrivacyRefused) as refused:
        privacy.erase(store, administrator, PHONE, expected=before)
    assert refused.value.code == "pv.changed"
    assert row(store, "tickets", person["ticket"])["caller_phone"] == PHONE


def test_a_wrong_names_entry_in_office_toml_is_named(store):
    settings = config.Settings(**{**store.settings.__dict__, "privacy_names": ("visitors.nobody", "tickets caller")})
    problems = privacy.problems(store.sheets, settings)
    assert len(problems) == 2 and "privacy.names[0] 'visitors.nobody'" in problems[0] and "no text field" in problems[0]
    assert "register.field" in problems[1]
    assert privacy.problems(store.sheets, store.settings) == []


def test_python_m_kefu_anonymise(store, people, capsys):
    visit(store, people["manager"], 400)
    assert cli.main(["--db", str(store.location), "anonymise", "--dry-run"]) == 0
    dry = capsys.readouterr().out
    assert dry.startswith("1 visits from before") and "nothing changed" in dry
    assert row(store, "visitors", 1)["phone"] == PHONE
    assert cli.main(["--db", str(store.location), "anonymise"]) == 0
    assert "emptied the ID numbers and phones of 1 visits" in capsys.readouterr().out
    assert row(store, "visitors", 1)["phone"] is None
