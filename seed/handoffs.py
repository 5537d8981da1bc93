"""The demo office's hand-offs (001 受理组: 如未能解决，转给售后工程师) and coordinations (000: 报请公司生产处协同处理):
a few recent tickets in progress are transferred to the after-sales engineers, some of them answered or
submitted by the engineer since, and a few are referred to a department, some answered. Each is a step
appended to the ticket's history as kefu.tickets would write it, dated between its last step and now."""
from __future__ import annotations

from datetime import datetime, timedelta

from kefu import auth
from kefu.sla import load_rules
from kefu.store import Store
from kefu.tickets import working_hours
from kefu.workflow import load_workflow

ENGINEERS = [("engineer01", "吴建华")]            # besides demo-engineer; no password (not a demo login)
QUESTIONS = {"production": ("设备批次质量问题，请生产处核查同批次产品。", "已核查同批次产品，安排上门更换配件。"),
             "engineering": ("需工程部派员现场勘查线路。", "已派工程师周四上门勘查。"),
             "finance": ("客户对扣费有异议，请财务部核对账单。", "账单核对无误，已向客户说明收费项目。"),
             "sales": ("客户咨询合同续签优惠，请销售部答复。", "可享续签九五折，已由销售部联系客户。")}


def seed_handoffs(store: Store, rng, now: datetime) -> dict:
    flow = load_workflow()
    engineers = [store.conn.execute("SELECT id FROM kefu_users WHERE username = 'demo-engineer'").fetchone()[0]]
    engineers += [auth.create_user(store, username, name, "engineer", None, auth.SYSTEM) for username, name in ENGINEERS]
    sla = load_rules(tz=store.settings.tz)
    found = store.conn.execute(
        "SELECT t.id, t.kind, t.assignee, t.created_at, t.version, max(e.created_at) FROM tickets t "
        "JOIN ticket_events e ON e.ticket = t.id WHERE t.state = 'in_progress' AND t.escalated = 0 "
        "AND t.deleted_at IS NULL AND t.created_at < ? GROUP BY t.id ORDER BY t.id DESC LIMIT 14",
        ((now - timedelta(days=1)).isoformat(),)).fetchall()       # a day old or more: the work spans office hours
    events, stamps, updates = [], [], []
    departments = [d["value"] for d in flow.departments]
    counts = {"transfers": 0, "coordinations": 0}
    for position, (ticket_id, kind, assignee, created, version, last) in enumerate(found):
        last = datetime.fromisoformat(last)
        span = (now - last).total_seconds()
        if span < 600:
            continue
        at = lambda share: datetime.fromtimestamp(last.timestamp() + int(span * share), now.tzinfo).replace(microsecond=0)
        state, changes = "in_progress", {}
        if position < 8:                                           # transferred; every third one resolved since
            engineer = engineers[0] if position % 3 != 2 else engineers[-1]
            events.append({"ticket": ticket_id, "step": "transfer", "from_state": state, "to_state": state,
                           "engineer": engineer, "comment": "现场问题，转售后工程师上门处理。"})
            stamps.append((at(0.3), assignee))
            changes["engineer"] = engineer
            counts["transfers"] += 1
            if position % 3 == 0:
                name = "submit" if kind in flow.gm_approval_kinds else "answer"
                state = flow.transitions[name].target
                moment = at(0.6)
                events.append({"ticket": ticket_id, "step": name, "from_state": "in_progress", "to_state": state,
                               "comment": "工程师上门检修完毕，已向客户说明。"})
                stamps.append((moment, engineer))
                changes.update(state=state, resolved_at=moment.isoformat(),
                               resolution_hours=working_hours(sla, datetime.fromisoformat(created), moment))
        if position % 2 == 1 and departments:                      # referred to a department; some answered
            department = departments[(position // 2) % len(departments)]
            question, answer = QUESTIONS.get(department, ("请协同处理。", "已处理。"))
            events.append({"ticket": ticket_id, "step": "coordinate", "from_state": state, "to_state": state,
                           "department": department, "comment": question})
            stamps.append((at(0.7), assignee))
            counts["coordinations"] += 1
            if position % 4 == 1:
                events.append({"ticket": ticket_id, "step": "coordination_answer", "from_state": state,
                               "to_state": state, "department": department, "comment": answer})
                stamps.append((at(0.9), assignee))
        steps = sum(1 for e in events if e["ticket"] == ticket_id)
        if steps:
            updates.append((ticket_id, version + steps, changes))
    with store.transaction() as conn:
        if events:
            from seed.demo import _backdate
            _backdate(store, "ticket_events", store.insert_many("ticket_events", events, auth.SYSTEM), stamps)
        for ticket_id, version, changes in updates:
            sets = ", ".join(f"{k} = ?" for k in changes)
            conn.execute(f"UPDATE tickets SET {sets + ', ' if sets else ''}version = ? WHERE id = ?",
                         (*changes.values(), version, ticket_id))
    return counts
