"""Who opens which screen: the expected matrix, written out from DOMAIN.md's roles and not computed from the
engine's rules, so a permission that slips in a sheet file or in the navigation fails the tests that use it
(tests/test_app.py in full through AppTest, tests/test_browser_access.py by typed URLs in Chromium)."""
from kefu.sheets import ROLES

EVERYONE_BUT_FINANCE = {"staff", "supervisor", "manager", "gm"}
BOARD = {"supervisor", "manager", "gm"}
# url path -> the roles that open it. Every register with a menu entry and every other screen is listed.
OPENS = {
    "home": set(ROLES),
    "account": set(ROLES),
    "visitors": EVERYONE_BUT_FINANCE | {"admin"},
    "roster": EVERYONE_BUT_FINANCE | {"admin"},
    "customers": EVERYONE_BUT_FINANCE | {"sales_director"},     # the sales director approves archives
    "tickets": EVERYONE_BUT_FINANCE | {"engineer"},     # the engineer works the tickets transferred to them
    "members": EVERYONE_BUT_FINANCE,
    "events": EVERYONE_BUT_FINANCE,
    "knowledge": EVERYONE_BUT_FINANCE,
    "kpi_reviews": EVERYONE_BUT_FINANCE,
    "department_reviews": BOARD | {"hr"},       # the gm and HR score the department (its KPI table)
    "partners": EVERYONE_BUT_FINANCE,
    "parts_sales": EVERYONE_BUT_FINANCE,
    "rewards_penalties": EVERYONE_BUT_FINANCE,
    "safety_incidents": EVERYONE_BUT_FINANCE,
    "service_points": EVERYONE_BUT_FINANCE,
    "staff_teams": EVERYONE_BUT_FINANCE,
    "surveys": EVERYONE_BUT_FINANCE,
    "corrective_actions": BOARD,
    "dashboard": {"staff"} | BOARD,
    "reports": BOARD,
    "survey_results": BOARD,
    "survey_reports": BOARD,
    "survey_campaigns": EVERYONE_BUT_FINANCE,
    "imports": BOARD,
    "incentives": {"staff", "manager", "gm", "finance", "hr"},    # the approval chain: prepare, check, approve
    "access_log": {"manager", "gm", "admin"},
    "users": {"admin"},
    "permissions": {"admin"},
    "audit": {"admin"},
    "health": {"admin"},
    "backups": {"admin"},
    "privacy": {"admin"},
    "office_rules": {"manager", "gm", "admin"},
    "designer": {"admin"},
}
NOT_ALLOWED = "您的角色无权打开此页面。"
# The demo account of each role (seed/demo.py DEMO_ACCOUNTS): demo-<role>, but demo-sales for the sales director.
DEMO = {role: f"demo-{role}" for role in ROLES} | {"sales_director": "demo-sales"}


def opens(role: str) -> set[str]:
    """The url paths `role` opens ('home' for the start page)."""
    return {path for path, roles in OPENS.items() if role in roles}
