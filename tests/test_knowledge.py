"""The knowledge base: articles from resolved tickets, suggested at intake as the subject is typed."""
import pytest

from kefu import knowledge, tickets
from kefu.errors import KefuError, PermissionDenied


@pytest.fixture
def people(make_user):
    return {role: make_user(role) for role in ("staff", "supervisor", "manager", "gm")}


def article(store, who, question, answer, category="billing"):
    return store.insert("knowledge", {"question": question, "answer": answer, "category": category}, who)


def test_intake_suggests_the_articles_that_share_most_with_the_subject(store, people):
    supervisor, staff = people["supervisor"], people["staff"]
    invoice = article(store, supervisor, "发票开具后多久可以寄到", "电子发票当日发送，纸质发票三个工作日内寄出。")
    repair = article(store, supervisor, "报修后多久上门维修", "一般报修 24 小时内上门。", "speed")
    article(store, supervisor, "物业费缴纳方式", "可通过银行转账或前台缴纳。", "property")
    found = knowledge.suggest(store, staff, "客户问发票什么时候寄到")
    assert [a["id"] for a in found][:1] == [invoice]
    assert repair in [a["id"] for a in knowledge.suggest(store, staff, "维修师傅一直不上门")]
    assert knowledge.suggest(store, staff, "天气") == []             # nothing in common: no suggestion
    assert knowledge.suggest(store, staff, "") == []


def test_a_category_s_articles_come_first(store, people):
    supervisor, staff = people["supervisor"], people["staff"]
    billing = article(store, supervisor, "上门维修收费标准", "按价目表收费。", "billing")
    speed = article(store, supervisor, "上门维修多久到", "24 小时内。", "speed")
    assert [a["id"] for a in knowledge.suggest(store, staff, "上门维修", category="speed")] == [speed, billing]
    assert [a["id"] for a in knowledge.suggest(store, staff, "上门维修", category="billing")] == [billing, speed]


def test_a_resolved_ticket_becomes_a_case(store, people):
    staff, supervisor, gm = people["staff"], people["supervisor"], people["gm"]
    ticket_id = tickets.intake(store, staff, {"channel": "hotline", "kind": "complaint", "category": "quality",
                                              "caller_name": "王女士", "subject": "空调维修后仍漏水"})
    with pytest.raises(KefuError) as caught:
        knowledge.from_ticket(store, supervisor, ticket_id, question="空调维修后漏水", answer="更换排水管。")
    assert caught.value.code == "kb.not_resolved"
    for name, who in (("start", staff), ("submit", staff), ("approve", gm)):
        tickets.step(store, who, ticket_id, name)
    with pytest.raises(PermissionDenied):
        knowledge.from_ticket(store, staff, ticket_id, question="空调维修后漏水", answer="更换排水管。")
    made = store.get("knowledge", knowledge.from_ticket(store, supervisor, ticket_id, question="空调维修后漏水",
                                                        answer="更换排水管并回访。"), staff)
    assert (made["category"], made["kind"], made["ticket"]) == ("quality", "case", ticket_id)
    assert [a["id"] for a in knowledge.suggest(store, staff, "空调漏水了")] == [made["id"]]
    assert knowledge.suggest(store, staff, "发票寄送") == []
