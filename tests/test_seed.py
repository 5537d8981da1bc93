"""Demo data: a realistic office, the same every time."""
import re
import sqlite3
from collections import Counter
from datetime import datetime, timedelta

import pytest

from kefu import auth, config, incentives, tickets
from kefu.sheets import load_sheets
from kefu.sla import load_rules
from kefu.store import Store
from kefu.workflow import load_workflow
from seed.demo import DEMO_ACCOUNTS, scale, seed_demo


def snapshot(path):
    with sqlite3.connect(path) as conn:
        return snapshot_of(conn)


def snapshot_of(conn):
    """What the demo office holds, in order: users, visits, roster, tickets and steps, and the rest (a sqlite3
    connection, or a PostgreSQL store's)."""
    return (conn.execute("SELECT username, display_name, role FROM kefu_users ORDER BY id").fetchall(),
            conn.execute("SELECT visitor_name, organisation, phone, purpose FROM visitors ORDER BY id").fetchall(),
            conn.execute("SELECT duty_date, staff, shift FROM roster ORDER BY id").fetchall(),
            conn.execute("SELECT ticket_no, kind, category, caller_name, subject, state, assignee, satisfaction, "
                         "created_at, resolution_due FROM tickets ORDER BY id").fetchall(),
            conn.execute("SELECT ticket, step, created_by, created_at FROM ticket_events ORDER BY id").fetchall(),
            conn.execute("SELECT question, ticket FROM knowledge ORDER BY id").fetchall(),
            conn.execute("SELECT week, ticket, result FROM spot_checks ORDER BY id").fetchall(),
            conn.execute("SELECT staff, ticket, reason FROM rewards_penalties ORDER BY id").fetchall(),
            conn.execute("SELECT staff, done_on, project_type, project FROM service_points ORDER BY id").fetchall(),
            conn.execute("SELECT staff, happened_on, description FROM safety_incidents ORDER BY id").fetchall(),
            conn.execute("SELECT staff, sold_on, customer, margin, amount, paid_on FROM parts_sales ORDER BY id")
            .fetchall())


def demo_now(path) -> datetime:
    with sqlite3.connect(path) as conn:
        return datetime.fromisoformat(conn.execute("SELECT value FROM kefu_meta WHERE key = 'demo_now'").fetchone()[0])


@pytest.fixture(scope="module")
def demo(demo_file):
    """The demo's tickets and steps, read once: (now, tickets by id, steps by ticket in order)."""
    with sqlite3.connect(demo_file) as conn:
        conn.row_factory = sqlite3.Row
        rows = {r["id"]: dict(r) for r in conn.execute("SELECT * FROM tickets")}
        steps = {}
        for event in conn.execute("SELECT * FROM ticket_events ORDER BY id"):
            steps.setdefault(event["ticket"], []).append(dict(event))
    return demo_now(demo_file), rows, steps


def test_demo_office_is_deterministic_and_realistic(demo_file, tmp_path):
    again = Store(tmp_path / "again.db", load_sheets(), config.load())
    again.migrate()
    seed_demo(again, now=demo_now(demo_file))                  # the same moment gives the same office
    first, second = snapshot(demo_file), snapshot(again.path)
    assert first == second
    users, visits, roster, *_ = first
    assert 28 <= len(users) <= 34
    assert {role for _, _, role in users} >= {r for _, _, r in DEMO_ACCOUNTS}
    assert len(visits) > 250                                    # a month of visits
    assert all(len(name) >= 2 and "\u4e00" <= name[0] <= "\u9fff" for name, *_ in visits)
    shifts = {shift for _, _, shift in roster}
    assert shifts == {"day", "evening", "rest"}
    by_person = {}
    for day, staff, shift in roster:
        by_person.setdefault(staff, []).append(shift)
    assert all(0.1 < s.count("rest") / len(s) < 0.2 for s in by_person.values())     # one day off in seven


def test_a_year_of_tickets_with_realistic_mixes(demo):
    now, rows, _ = demo
    assert 19_000 <= len(rows) <= 21_000
    created = sorted(datetime.fromisoformat(r["created_at"]) for r in rows.values())
    assert created[0] >= now - timedelta(days=366) and created[-1] <= now
    months = Counter(c.strftime("%Y-%m") for c in created)
    assert len(months) >= 12 and min(n for m, n in months.items() if m not in (created[0].strftime("%Y-%m"),
                                                                                 now.strftime("%Y-%m"))) > 800
    share = {k: n / len(rows) for k, n in Counter(r["kind"] for r in rows.values()).items()}
    assert set(share) == {"inquiry", "complaint", "suggestion", "praise"}
    assert 0.5 < share["inquiry"] < 0.6 and 0.2 < share["complaint"] < 0.3 and share["praise"] < share["suggestion"]
    channels = Counter(r["channel"] for r in rows.values())
    assert channels.most_common(1)[0][0] == "hotline" and len(channels) == 5
    severities = Counter(r["severity"] for r in rows.values())
    assert severities["normal"] > 0.85 * len(rows) and 0 < severities["emergency"] < 0.02 * len(rows)
    assert 0 < sum(r["group_complaint"] for r in rows.values()) < 0.01 * len(rows)
    assert all(r["kind"] == "complaint" for r in rows.values() if r["group_complaint"])
    names = [r["caller_name"] for r in rows.values()]
    assert all("\u4e00" <= n[0] <= "\u9fff" for n in names) and len(set(names)) > 2000
    assert all(re.fullmatch(r"1\d{10}", r["caller_phone"]) for r in rows.values() if r["caller_phone"])
    assert len({r["subject"] for r in rows.values()}) > 80


def test_tickets_numbered_per_day_and_valid(demo, demo_store):
    _, rows, _ = demo
    numbers = [r["ticket_no"] for r in rows.values()]
    assert len(set(numbers)) == len(numbers)
    for r in rows.values():
        assert re.fullmatch(r"TS-\d{8}-\d{4}", r["ticket_no"])
        assert r["ticket_no"][3:11] == r["created_at"][:10].replace("-", "")
    first_of_day = [r for r in rows.values() if r["ticket_no"].endswith("-0001")]
    assert len(first_of_day) >= 360                              # every day of the year had calls
    sheet = demo_store.sheet("tickets")
    for r in list(rows.values())[::97]:                          # stored rows pass the sheet's own validation
        values = {f.name: r[f.name] for f in sheet.fields if r[f.name] is not None}
        if "claim_amount" in values:
            values["claim_amount"] = f"{values['claim_amount'] / 100:.2f}"
        assert sheet.validate(values, demo_store.ctx) == {k: r[k] for k in values}
    ids = [r[0] for r in demo_store.conn.execute("SELECT id FROM tickets ORDER BY created_at, id")]
    assert ids == sorted(ids)                                    # received in order: the newest has the largest id


def test_states_follow_age_and_the_workflow(demo):
    now, rows, steps = demo
    flow = load_workflow()
    old = [r for r in rows.values() if datetime.fromisoformat(r["created_at"]) < now - timedelta(days=60)]
    assert sum(r["state"] == "closed" for r in old) > 0.97 * len(old)
    recent = [r for r in rows.values() if datetime.fromisoformat(r["created_at"]) > now - timedelta(days=5)]
    assert len({r["state"] for r in recent if r["state"] in flow.open_states}) >= 4
    assert {r["state"] for r in rows.values()} >= {"new", "in_progress", "waiting_customer", "awaiting_approval",
                                                   "feedback_given", "closed"}
    for ticket_id, r in rows.items():
        events = steps[ticket_id]
        assert events[0]["step"] == "intake" and sum(e["step"] == "intake" for e in events) == 1
        assert events[0]["created_at"] == r["created_at"] and events[0]["created_by"] == r["first_responder"]
        assert events[-1]["to_state"] == r["state"]              # the steps lead to the ticket's state
        assert [e["created_at"] for e in events] == sorted(e["created_at"] for e in events)
        assert all(e["created_at"] <= now.isoformat() for e in events)
        state = "new"
        for e in events[1:]:                                     # each step allowed from the state before
            assert e["from_state"] == state
            if e["step"] not in ("acknowledge", "attribute_fault", "coordinate", "coordination_answer"):
                transition = flow.check(state, e["step"], "system", ticket=r)
                assert e["to_state"] == transition.target
            state = e["to_state"]
        assert r["version"] == len(events)
        if r["state"] == "closed":
            assert r["satisfaction"] in range(1, 6) and r["follow_up_note"] and r["closed_at"]
            assert r["responded_at"] and r["resolved_at"] and r["created_at"] < r["responded_at"] <= r["resolved_at"]
            assert [e["step"] for e in events][-2:] == ["follow_up", "close"] or events[-1]["step"] in (
                "acknowledge", "attribute_fault")
            taken = {e["step"] for e in events}
            if r["kind"] in flow.gm_approval_kinds:              # a complaint's result: the gm, then feedback
                assert {"start", "approve", "give_feedback"} <= taken
            else:                                                # answered, or approved by the manager alone
                assert "start" in taken and "approve" not in taken
                assert "answer" in taken or {"manager_approve_final", "give_feedback"} <= taken
        else:
            assert r["satisfaction"] is None and r["closed_at"] is None


def test_people_on_the_tickets(demo, demo_store):
    _, rows, steps = demo
    roles = dict(demo_store.conn.execute("SELECT id, role FROM kefu_users"))
    assert 0.05 < sum(r["first_responder"] != r["assignee"] for r in rows.values()) / len(rows) < 0.2
    for ticket_id, r in rows.items():
        for e in steps[ticket_id]:
            role = roles[e["created_by"]]
            if e["step"] == "approve":
                assert role == "gm"
            elif e["step"] in ("manager_approve", "manager_approve_final", "acknowledge", "attribute_fault"):
                assert role == "manager"
            elif e["step"] == "send_back":
                assert role in ("manager", "gm")
            elif e["step"] == "assign":
                assert role in ("supervisor", "manager") and r["first_responder"] != r["assignee"]
            elif role == "engineer":                              # works a ticket transferred to them
                assert e["step"] in ("answer", "submit") and r["engineer"] == e["created_by"]
            else:
                assert role in ("staff", "supervisor")
    satisfaction = [r["satisfaction"] for r in rows.values() if r["satisfaction"]]
    assert sum(satisfaction) / len(satisfaction) > 3.7 and Counter(satisfaction)[5] > Counter(satisfaction)[3]
    linked = [r for r in rows.values() if r["customer"]]
    assert len(linked) > 0.2 * len(rows)
    phones = {cid: {p, m} for cid, p, m in demo_store.conn.execute("SELECT id, phone, mobile FROM customers")}
    assert all(r["caller_phone"] in phones[r["customer"]] for r in linked)


def test_escalations_claims_and_due_times(demo, demo_store):
    now, rows, steps = demo
    rules = tickets.escalation_rules()
    for r in rows.values():
        assert bool(r["escalated"]) == tickets.needs_escalation(r, rules)
    escalated = [r for r in rows.values() if r["escalated"]]
    assert any(r["claim_amount"] and r["claim_amount"] >= 1_000_000 for r in escalated)    # 10,000 yuan or more
    assert any(r["claim_amount"] and r["claim_amount"] < 1_000_000 for r in rows.values() if not r["escalated"])
    acknowledged = [r for r in escalated if r["acknowledged_at"]]
    assert len(acknowledged) > 0.9 * len(escalated)
    assert all(r["acknowledged_at"] > r["created_at"] for r in acknowledged)
    waiting = [r for r in escalated if not r["acknowledged_at"]]
    assert all(datetime.fromisoformat(r["created_at"]) > now - timedelta(days=10) for r in waiting)
    assert all("submit_to_manager" in {e["step"] for e in steps[r["id"]]}
               for r in escalated if r["state"] == "closed")
    sla = load_rules(tz=demo_store.settings.tz)                  # due times as kefu.sla computes them
    for r in list(rows.values())[::53]:
        target = sla.target(r["kind"], r["severity"])
        created = datetime.fromisoformat(r["created_at"])
        pauses, start = [], None
        for e in steps[r["id"]]:
            moment = datetime.fromisoformat(e["created_at"])
            if e["to_state"] == "waiting_customer" and start is None:
                start = moment
            elif e["to_state"] != "waiting_customer" and start is not None:
                pauses.append((start, moment))
                start = None
        assert r["response_due"] == sla.calendar.due(created, target.response).isoformat()
        if not pauses:
            assert r["resolution_due"] == sla.calendar.due(created, target.resolution).isoformat()
        else:
            assert r["resolution_due"][:16] == sla.calendar.due(created, target.resolution, pauses).isoformat()[:16]
    resolved = [r for r in rows.values() if r["resolved_at"]]
    late = sum(r["resolved_at"] > r["resolution_due"] for r in resolved)
    assert 0.03 * len(resolved) < late < 0.2 * len(resolved)


def test_work_lists_fines_knowledge_and_spot_checks(demo, demo_store):
    _, rows, _ = demo
    manager = auth.get_user(demo_store, demo_store.conn.execute(
        "SELECT id FROM kefu_users WHERE username = 'demo-manager'").fetchone()[0])
    tz = demo_store.settings.tz
    found = {name: demo_store.query("tickets", manager, tickets.queue(name, manager, tz=tz)).total
             for name in ("open", "overdue", "follow_up")}
    assert found["open"] > found["overdue"] > 0 and found["follow_up"] > 0

    fines = demo_store.conn.execute("SELECT staff, kind, amount, ticket, reason FROM rewards_penalties "
                                    "WHERE ticket IS NOT NULL").fetchall()
    faulted = {r["id"]: r for r in rows.values() if r["fault_staff"]}
    assert 5 <= len(fines) == len(faulted)
    for staff, kind, amount, ticket_id, reason in fines:
        assert kind == "own_fault_complaint" and amount == tickets.fault_fine_fen()
        assert faulted[ticket_id]["fault_staff"] == staff and faulted[ticket_id]["kind"] == "complaint"
        assert reason.startswith(faulted[ticket_id]["ticket_no"]) and faulted[ticket_id]["fault_reason"] in reason

    articles = demo_store.conn.execute("SELECT kind, ticket, category FROM knowledge").fetchall()
    assert 35 <= len(articles) <= 45
    cases = [(ticket_id, category) for kind, ticket_id, category in articles if ticket_id]
    assert len(cases) >= 10 and all(rows[t]["state"] == "closed" and rows[t]["category"] == c for t, c in cases)

    checks = demo_store.conn.execute("SELECT week, ticket, staff, result FROM spot_checks").fetchall()
    weeks = Counter(week for week, *_ in checks)
    assert len(weeks) >= 6 and min(weeks.values()) > 20
    assert 0.8 < sum(result == "pass" for *_, result in checks) / len(checks) < 0.98
    per_staff = Counter((week, staff) for week, _, staff, _ in checks)
    assert max(per_staff.values()) <= load_workflow().spot_check_per_staff
    for week, ticket_id, staff, _ in checks:
        closed = rows[ticket_id]["closed_at"][:10]
        assert week <= closed < (datetime.fromisoformat(week) + timedelta(days=7)).date().isoformat()
        assert rows[ticket_id]["assignee"] == staff


def test_scale_adds_tickets_with_their_steps(store, make_user):
    for role in ("staff", "staff", "staff", "supervisor", "manager", "gm"):
        make_user(role)
    added = scale(store, 300)
    assert added["tickets"] == 300 and added["customers"] == 60 and added["visitors"] == 90
    conn = store.conn
    assert conn.execute("SELECT count(*) FROM tickets").fetchone()[0] == 300
    assert conn.execute("SELECT count(DISTINCT ticket) FROM ticket_events WHERE step = 'intake'").fetchone()[0] == 300
    assert 300 < added["ticket_events"] <= 600
    assert conn.execute("SELECT count(*) FROM tickets t WHERE state != (SELECT to_state FROM ticket_events "
                        "WHERE ticket = t.id ORDER BY id DESC LIMIT 1)").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM kefu_audit WHERE sheet = 'tickets'").fetchone()[0] == 300
    assert conn.execute("SELECT min(created_at) < date('now', '-2 years') FROM tickets").fetchone()[0]


def test_demo_incentive_runs_have_points_rewards_fines_and_commission(demo, demo_store):
    """Last month's run pays points over the base to several staff (not all), with rewards and fines; the
    last full quarter's run pays commission with the department pool's share; every source record keeps
    to the rules (dates not ahead, amounts within bounds or the rule's figure, paid not before sold)."""
    now, _, _ = demo
    today = now.date()
    conn = demo_store.conn
    manager = auth.get_user(demo_store, conn.execute(
        "SELECT id FROM kefu_users WHERE username = 'demo-manager'").fetchone()[0])
    staff = {uid for uid, in conn.execute("SELECT id FROM kefu_users WHERE role IN ('staff', 'supervisor')")}
    rules = incentives.rules_for(demo_store)

    last_month = today.replace(day=1) - timedelta(days=1)
    run = incentives.run_for(demo_store, manager, f"{last_month:%Y-%m}")
    performance = {line.staff: line for line in run.lines if line.component == "performance"}
    assert set(performance) == staff                                  # everyone served projects
    paid = [uid for uid, line in performance.items() if line.amount_fen > 0]
    assert 0.5 * len(staff) < len(paid) < len(staff)                  # most over the base, some not
    assert any(line.basis[0][1]["incidents"] for line in performance.values())      # the month's incident
    rewards = [line for line in run.lines if line.component in ("praise_letter", "cost_saving", "no_repeat_project")]
    fines = [line for line in run.lines if line.component == "unsigned_record" and line.amount_fen < 0]
    assert rewards and fines and all(line.amount_fen > 0 for line in rewards)
    assert {line.staff for line in rewards + fines} <= staff

    quarter = (today.month - 1) // 3                                  # the last full quarter
    label = f"{today.year}-Q{quarter}" if quarter else f"{today.year - 1}-Q4"
    run = incentives.run_for(demo_store, manager, label)
    commission = [line for line in run.lines if line.component == "commission" and line.amount_fen > 0]
    assert len(commission) >= 3 and {line.staff for line in commission} <= staff
    pool = [line for line in run.lines if line.component == incentives.DEPARTMENT]
    assert len(pool) == 1 and pool[0].amount_fen == sum(line.pool_fen for line in run.lines) > 0

    day = today.isoformat()
    assert conn.execute("SELECT max(done_on) FROM service_points").fetchone()[0] <= day
    assert conn.execute("SELECT max(happened_on) FROM safety_incidents").fetchone()[0] <= day
    assert conn.execute("SELECT max(happened_on) FROM rewards_penalties").fetchone()[0] <= day
    assert conn.execute("SELECT max(max(sold_on), coalesce(max(paid_on), '')) FROM parts_sales").fetchone()[0] <= day
    assert 1 <= conn.execute("SELECT count(*) FROM safety_incidents").fetchone()[0] <= 10
    assert conn.execute("SELECT count(*) FROM service_points WHERE own_fault_repeat").fetchone()[0] >= 1
    low, high = rules.reward_bounds["praise_letter"]
    for kind, approved, amount, ticket, reason in conn.execute(
            "SELECT kind, approved, amount, ticket, reason FROM rewards_penalties"):
        assert reason
        if kind in rules.reward_bounds:
            assert rules.reward_bounds[kind][0] <= amount <= rules.reward_bounds[kind][1]
        elif kind == "no_repeat_project":
            assert amount == rules.fixed_fen[kind]
        elif kind == "unsigned_record":
            assert amount == (rules.fines_fen["unsigned_record_approved"] if approved else rules.fines_fen[kind])
        else:
            assert kind == "own_fault_complaint" and ticket                # only the complaint log writes these
    assert conn.execute("SELECT count(*) FROM rewards_penalties WHERE kind = 'unsigned_record' AND approved"
                        ).fetchone()[0] >= 1
    sales = conn.execute("SELECT margin, amount, sold_on, paid_on, customer IN (SELECT id FROM customers) "
                         "FROM parts_sales").fetchall()
    assert all(linked and (paid is None or paid >= sold) for _, _, sold, paid, linked in sales)
    assert any(paid is None for _, _, _, paid, _ in sales)                    # some not yet fully paid
    bands = [incentives.band_for(margin, rules) for margin, *_ in sales]
    assert None in bands and {band.rate for band in bands if band} == {band.rate for band in rules.bands}
    amounts = [amount for _, amount, *_ in sales]
    assert min(amounts) < 100_000 and max(amounts) > 1_000_000                # under 1,000 to over 10,000 yuan
