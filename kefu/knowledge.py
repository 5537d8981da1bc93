"""The knowledge base and case library (知识库及案例库): articles made from resolved tickets, and the
articles that match what a caller is asking about, best first, for the intake form."""
from __future__ import annotations

import re

from kefu import auth
from kefu.errors import KefuError
from kefu.store import Query, Store
from kefu.workflow import Workflow, load_workflow

SHEET = "knowledge"
RESOLVED = ("approved", "feedback_given", "followed_up", "closed")
_RUN = re.compile(r"[\u3400-\u9fff]+|[A-Za-z0-9]+")


def from_ticket(store: Store, actor, ticket_id: int, *, question: str, answer: str, kind: str = "case",
                flow: Workflow | None = None, lang: str = "zh") -> int:
    """A resolved ticket becomes an article: its category and a link back to it."""
    (flow or load_workflow()).require("knowledge", actor.role, lang)
    ticket = store.get("tickets", ticket_id, actor)
    if ticket["state"] not in RESOLVED:
        raise KefuError("kb.not_resolved")
    return store.insert(SHEET, {"question": question, "answer": answer, "category": ticket["category"],
                                "kind": kind, "ticket": ticket_id}, actor)


def _terms(text: str) -> list[str]:
    """Pieces of the text the short-term index holds: each pair of neighbouring Chinese characters
    (a lone character says too little), and Latin words or numbers of two or more characters."""
    terms = []
    for run in _RUN.findall((text or "").lower()):
        if run.isascii():
            terms += [run] if len(run) >= 2 else []
        else:
            terms += [run[i:i + 2] for i in range(len(run) - 1)]
    return list(dict.fromkeys(terms))[:60]


def suggest(store: Store, actor, text: str, *, category: str | None = None, limit: int = 5) -> list[dict]:
    """Articles sharing pieces with the text (any of them, ranked by bm25: rarer and more shared pieces
    first), the given category's before the others."""
    sheet = store.sheet(SHEET)
    if not auth.can(actor, sheet, "read"):
        return []
    terms = _terms(text)
    if not terms:
        return []
    ids = store.best_matches(SHEET, terms, first=("category", category), limit=limit)
    if not ids:
        return []
    found = {r["id"]: r for r in store.query(SHEET, actor, Query(filters={"id": ids}, page_size=limit)).rows}
    return [found[i] for i in ids if i in found]
