"""The office rules editor (kefu/office_rules.py) and `python -m kefu rules`: each bad rule refused by the
app's own loader with the key named in the user's language and nothing written; a save keeps the file's
comments and layout, is versioned and audited; saved figures take effect from a day (an earlier quarter's
ranking keeps its weights, an approved incentive run stays byte for byte); restore; the "what changes"
previews on a small hand-built office. Every test works on a copy of rules/ ($KEFU_RULES)."""
import json
import re
import time
from datetime import date, datetime, timedelta

import pytest

from kefu import auth, cli, incentives, kpi, office_rules, tickets, versions, workflow
from kefu import rules as rule_files
from kefu.errors import KefuError, PermissionDenied
from kefu.office_rules import RulesRefused



@pytest.fixture(autouse=True)
def rules_dir(rules_copy):
    return rules_copy


@pytest.fixture
def manager(make_user):
    return make_user("manager", "boss")


def approve_through_the_chain(store, manager, make_user, period: str) -> None:
    """A run prepared by the manager, checked by finance and HR, approved by the gm (rules/incentives.toml)."""
    incentives.prepare(store, manager, period)
    incentives.check(store, make_user("finance", "fin-chain"), period)
    incentives.check(store, make_user("hr", "hr-chain"), period)
    incentives.approve(store, make_user("gm", "gm-chain"), period)


def kept(store, name: str) -> list:
    return versions.history(store, "rules", name)


def audited(store) -> int:
    return store.conn.execute("SELECT count(*) FROM kefu_audit WHERE sheet = 'kefu_rules'").fetchone()[0]


# ---------------------------------------------------------------------------------------------- refusals

@pytest.mark.parametrize("name, values, key, zh, en", [
    ("kpi", {"ranking.weights.satisfaction": 40}, "ranking.weights",
     "季度考核权重（百分比，合计 100） (ranking.weights)：合计须为 100，现为 90。未保存。",
     "Quarterly ranking weights (percent, adding up to 100) (ranking.weights): must add up to 100, not 90."),
    ("incentives", {"fines.unsigned_record": "-100"}, "fines.unsigned_record",
     "服务单未经客户签字 (fines.unsigned_record)：不能为负数，现为 -100",
     "Service record not signed by the customer (fines.unsigned_record): must not be negative, not -100"),
    ("incentives", {"performance.yuan_per_point": "270.005"}, "performance.yuan_per_point",
     "超出部分每分金额（元） (performance.yuan_per_point)：金额须精确到分（最多两位小数），现为 270.005",
     "(performance.yuan_per_point): must be yuan to the fen (at most two decimals), not 270.005"),
    ("sla", {"escalation.claim_yuan": "-1"}, "escalation.claim_yuan", "索赔金额达到（元） (escalation.claim_yuan)：不能为负数",
     "must not be negative, not -1"),
    ("club", {"tiers[3].points": 1500}, "tiers[3].points",
     "白金卡：积分达到 (tiers[3].points)：须高于上一等级（2000），现为 1500：等级须由低到高递增",
     "Platinum: from points (tiers[3].points): must be above the tier before it (2000), not 1500"),
    ("incentives", {"commission.pool_share": 25}, "commission.person_share", "合计须为 100，现为 105", "must add up to 100"),
    ("sla", {"targets.complaint.normal.resolution": 2}, "targets.complaint.normal.resolution",
     "一般：解决 (targets.complaint.normal.resolution)：不能低于一般：响应 (targets.complaint.normal.response)（4.0）",
     "must not be below Normal: response"),
    ("kpi", {"ranking.weights.satisfaction": "fifty"}, "ranking.weights.satisfaction", "外部客户满意度", "must be a number"),
])
def test_each_bad_rule_is_refused_naming_the_key_and_nothing_is_written(store, manager, rules_dir, name, values, key,
                                                                        zh, en):
    before = (rules_dir / f"{name}.toml").read_bytes()
    with pytest.raises(RulesRefused) as caught:
        office_rules.save_figures(store, manager, name, values)
    assert caught.value.key == key
    assert zh in caught.value.message("zh")
    assert en in caught.value.message("en")
    assert (rules_dir / f"{name}.toml").read_bytes() == before
    assert kept(store, name) == [] and audited(store) == 0


def test_an_unknown_role_in_the_workflow_is_refused_by_the_command_line(store, rules_dir, capsys, tmp_path):
    """The same loader refuses a whole file given on the command line: exit 2, the step named."""
    edited = tmp_path / "workflow.toml"
    edited.write_text((rules_dir / "workflow.toml").read_text(encoding="utf-8")
                      .replace('to = "approved"\nroles = ["gm"]', 'to = "approved"\nroles = ["boss"]'), encoding="utf-8")
    before = (rules_dir / "workflow.toml").read_bytes()
    code = cli.main(["--db", str(store.location), "rules", "apply", str(edited), "--lang", "zh"])
    message = capsys.readouterr().err
    assert code == 2
    import tomllib
    position = [t["name"] for t in tomllib.loads(edited.read_text(encoding="utf-8"))["transitions"]].index("approve") + 1
    assert f"审批通过 (transitions[{position}].roles)：须为已知角色" in message and "未保存" in message
    assert (rules_dir / "workflow.toml").read_bytes() == before and kept(store, "workflow") == []


def test_no_comment_in_the_file_repeats_a_figure_a_save_changes(store, manager, rules_dir):
    """The comments above a table say what its figures mean, and the rulebook's own figures as the
    rulebook's: after a save none of them states the old figures as the file's."""
    office_rules.save_figures(store, manager, "kpi", {**NEW_WEIGHTS, "ranking.bonus.top": 4, "ranking.bonus.next": 9})
    comments = [line.split("#", 1)[1] for line in (rules_dir / "kpi.toml").read_text(encoding="utf-8").splitlines()
                if "#" in line]
    stale = [c for c in comments if re.search(r"(?<![\d.])(50|20|3|8)(?![\d.])", c) and "rulebook" not in c]
    assert stale == []
    groups = {g.key: g for g in office_rules.groups("kpi", (rules_dir / "kpi.toml").read_text(encoding="utf-8"))}
    assert "these figures are the office's own choice (shipped as 50, 20, 10, 10, 10)" in \
        groups["ranking.weights"].meaning["en"]                  # not claimed from the rulebooks
    assert "The rulebook's table: 50, 20, 10, 10, 10." in groups["department.weights"].meaning["en"]


def test_a_broken_text_is_refused_naming_the_file(store, manager, rules_dir):
    with pytest.raises(RulesRefused) as caught:
        office_rules.save_text(store, manager, "club_surveys", "threshold = = 3\n")
    assert caught.value.message("zh").startswith("满意度调查：不是有效的 TOML 格式")
    assert (rules_dir / "club_surveys.toml").read_text(encoding="utf-8").startswith("# Satisfaction surveys")


def test_a_hand_edited_file_gets_the_same_new_checks(store, rules_dir):
    """The checks added for the editor live in the loaders: `kefu check` refuses a hand-edited file too."""
    path = rules_dir / "sla.toml"
    path.write_text(path.read_text(encoding="utf-8").replace("claim_yuan = 10000", "claim_yuan = 10000.001"),
                    encoding="utf-8")
    _, problems = cli.check_rules(rules_dir, store.sheets, store.settings)
    assert problems == [f"{path}: escalation.claim_yuan must be yuan with at most two decimals, not 10000.001"]


def test_only_the_manager_and_the_gm_save_and_the_admin_reads(store, make_user, rules_dir):
    gm, admin, staff = make_user("gm"), make_user("admin"), make_user("staff")
    office_rules.save_figures(store, gm, "club_surveys", {"min_answers": 12})
    with pytest.raises(PermissionDenied):
        office_rules.save_figures(store, admin, "club_surveys", {"min_answers": 15})
    assert [v.version for v in office_rules.history(store, admin, "club_surveys")] == [2, 1]
    assert office_rules.current_text(store, admin, "club_surveys") == (rules_dir / "club_surveys.toml").read_text("utf-8")
    with pytest.raises(PermissionDenied):
        office_rules.history(store, staff, "club_surveys")
    with pytest.raises(PermissionDenied):
        office_rules.preview_figures(store, admin, "club_surveys", {"min_answers": 15})


# ---------------------------------------------------------------------------------------------- saving

def test_a_save_keeps_comments_and_layout_is_versioned_and_audited(store, manager, rules_dir):
    path = rules_dir / "kpi.toml"
    original = path.read_text(encoding="utf-8")
    saved = office_rules.save_figures(store, manager, "kpi", {"ranking.weights.satisfaction": 40,
                                                              "ranking.weights.skill_pass_rate": 30,
                                                              "ranking.bonus.top": 4},
                                      effective_from="2026-10-01")
    now = path.read_text(encoding="utf-8")
    changed = [line for line in office_rules.diff(original, now) if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert changed == [
        "-satisfaction = 50             # computed from the data, see [ranking.satisfaction]",
        "-skill_pass_rate = 20          # entered by the manager in the quarterly review (季度考核评分)",
        "+satisfaction = 40             # computed from the data, see [ranking.satisfaction]",
        "+skill_pass_rate = 30          # entered by the manager in the quarterly review (季度考核评分)",
        "-top = 3                       # the first bonus places: 1 to top",
        "+top = 4                       # the first bonus places: 1 to top"]
    assert kpi.load_rules().weights["satisfaction"] == 40          # the app reads it at once
    history = kept(store, "kpi")
    assert [(v.version, v.effective_from, v.saved_by_name) for v in history] == [
        (2, "2026-10-01", "boss"), (1, None, "system")]
    assert history[1].body == original and history[0].body == now and saved.version.version == 2
    before, after = store.conn.execute("SELECT before, after FROM kefu_audit WHERE sheet = 'kefu_rules' "
                                       "AND action = 'rules_saved' AND username = 'boss'").fetchone()
    assert '"ranking.weights.satisfaction": 50' in before and '"ranking.weights.satisfaction": 40' in after
    with pytest.raises(KefuError) as same:
        office_rules.save_figures(store, manager, "kpi", {"ranking.weights.satisfaction": 40})
    assert same.value.code == "or.no_change"


def test_a_file_changed_on_disk_since_the_form_opened_is_not_overwritten(store, manager, rules_dir):
    path = rules_dir / "club_surveys.toml"
    opened = path.read_text(encoding="utf-8")
    path.write_text(opened.replace("min_answers = 10", "min_answers = 20"), encoding="utf-8")
    with pytest.raises(KefuError) as caught:
        office_rules.save_figures(store, manager, "club_surveys", {"threshold": 3}, expected=opened)
    assert caught.value.code == "or.changed_on_disk"
    assert [(c.key, c.label["en"], c.before, c.after) for c in caught.value.changes] == [
        ("min_answers", "At least this many answers", 10, 20)]                     # what the other changed
    shown = "\n".join(caught.value.diff)
    assert "\n-min_answers = 10 " in shown and "\n+min_answers = 20 " in shown
    assert "min_answers = 20" in path.read_text(encoding="utf-8") and kept(store, "club_surveys") == []


def test_a_hand_edit_after_a_save_is_kept_as_a_version_of_its_own(store, manager, rules_dir):
    office_rules.save_figures(store, manager, "club_surveys", {"threshold": 3})
    path = rules_dir / "club_surveys.toml"
    path.write_text(path.read_text(encoding="utf-8").replace("min_answers = 10", "min_answers = 20"), encoding="utf-8")
    assert "min_answers = 20" in rule_files.text_on(store, "club_surveys", datetime.now(store.settings.tz).date())   # the edit stands
    office_rules.save_figures(store, manager, "club_surveys", {"threshold": 4})
    assert [(v.version, v.note) for v in kept(store, "club_surveys")][:2] == [(4, ""), (3, "edited by hand")]
    assert "min_answers = 20" in path.read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------------------- effective from

def at(day: str) -> str:
    return f"{day}+08:00"


def closed(store, staff, created: str, stars: int, on_time: bool) -> None:
    ticket_id = store.insert("tickets", {
        "channel": "hotline", "kind": "complaint", "category": "speed", "severity": "normal", "caller_name": "陈先生",
        "subject": "维修迟迟不上门", "state": "closed", "assignee": staff.id, "satisfaction": stars,
        "resolution_due": at("2027-12-31T18:00:00") if on_time else at("2020-01-01T10:00:00"),
        "resolved_at": at(created.replace("T10", "T15"))}, auth.SYSTEM)
    store.conn.execute("UPDATE tickets SET created_at = ? WHERE id = ?", (at(created), ticket_id))


def review(store, manager, staff, quarter: int, scores) -> None:
    store.insert("kpi_reviews", {"staff": staff.id, "year": 2026, "quarter": str(quarter),
                                 **dict(zip(kpi.HAND_PARTS, scores))}, manager)


@pytest.fixture
def two_quarters(store, manager, make_user):
    """A: the customers love her (computed 100), no hand scores; B: computed 0, hand scores 100/100/100/60.
    Default weights 50/20/10/10/10: A 50, B 46. Weights 20/50/10/10/10: A 20, B 76."""
    a, b = make_user("staff", "staff-a"), make_user("staff", "staff-b")
    for quarter, month in ((1, "02"), (2, "05")):
        closed(store, a, f"2026-{month}-10T10:00:00", 5, on_time=True)
        closed(store, b, f"2026-{month}-10T10:00:00", 1, on_time=False)
        review(store, manager, a, quarter, (0, 0, 0, 0))
        review(store, manager, b, quarter, (100, 100, 100, 60))
    return a, b


NEW_WEIGHTS = {"ranking.weights.satisfaction": 20, "ranking.weights.skill_pass_rate": 50}


def test_an_earlier_quarter_keeps_the_weights_in_force_then(store, manager, two_quarters):
    a, b = two_quarters
    standings = lambda quarter: [(r.key, r.score) for r in kpi.staff_ranking(store, manager, 2026, quarter)]
    assert standings(1) == standings(2) == [(a.id, 50), (b.id, 46)]
    office_rules.save_figures(store, manager, "kpi", NEW_WEIGHTS, effective_from="2026-04-01")
    assert standings(1) == [(a.id, 50), (b.id, 46)]                 # Q1 ended before the change
    assert standings(2) == [(b.id, 76), (a.id, 20)]                 # Q2 ranks by the new weights
    assert kpi.rules_on(store, date(2026, 3, 31)).weights["satisfaction"] == 50
    assert kpi.rules_on(store, date(2026, 4, 1)).weights["satisfaction"] == 20
    office_rules.save_figures(store, manager, "kpi", {"ranking.weights.satisfaction": 50,
                                                      "ranking.weights.skill_pass_rate": 20},
                              effective_from="2026-07-01")
    assert standings(2) == [(b.id, 76), (a.id, 20)]                 # a later change leaves Q2 as it was


def test_an_approved_run_is_unchanged_byte_for_byte_and_a_later_one_uses_the_new_figures(store, manager, make_user):
    person = make_user("staff", "staff-w")
    for day in ("2026-10-15", "2026-11-15"):
        store.insert_many("service_points", [{"staff": person.id, "done_on": day, "project_type": "maintenance",
                                              "project": f"FW-{day}-{n}"} for n in range(20)], auth.SYSTEM)
    approve_through_the_chain(store, manager, make_user, "2026-10")
    approved = incentives.export(store, manager, "2026-10", "csv", "zh"), incentives.export(store, manager, "2026-10",
                                                                                           "xlsx", "zh")
    assert incentives.compute(store, manager, "2026-11").total_fen == 3 * 27000      # 20 points, base 17, 270 each
    office_rules.save_figures(store, manager, "incentives", {"performance.yuan_per_point": "300"},
                              effective_from="2026-10-01")
    assert (incentives.export(store, manager, "2026-10", "csv", "zh"),
            incentives.export(store, manager, "2026-10", "xlsx", "zh")) == approved
    assert incentives.compute(store, manager, "2026-10").total_fen == 3 * 27000
    assert incentives.compute(store, manager, "2026-11").total_fen == 3 * 30000


def step_of(rules_dir, name: str) -> int:
    import tomllib
    steps = tomllib.loads((rules_dir / "workflow.toml").read_text(encoding="utf-8"))["transitions"]
    return [step["name"] for step in steps].index(name) + 1


CLAIM = {"channel": "hotline", "kind": "complaint", "category": "quality", "severity": "normal",
         "caller_name": "陈先生", "subject": "索赔", "claim_amount": "8000"}


def test_a_save_from_tomorrow_changes_nothing_today_and_takes_effect_tomorrow(store, manager, make_user, rules_dir,
                                                                              monkeypatch):
    """Readers without a period (escalation, the workflow) read the file: it holds today's rules until the day."""
    staff = make_user("staff")
    today = rule_files.today(store)
    tomorrow = today + timedelta(days=1)
    sla_file, flow_file = (rules_dir / "sla.toml").read_bytes(), (rules_dir / "workflow.toml").read_bytes()
    reopen = step_of(rules_dir, "reopen")
    office_rules.save_figures(store, manager, "sla", {"escalation.claim_yuan": "5000"}, effective_from=tomorrow)
    office_rules.save_figures(store, manager, "workflow", {f"transitions[{reopen}].roles": ["staff", "supervisor",
                                                                                           "manager"]},
                              effective_from=tomorrow)
    assert (rules_dir / "sla.toml").read_bytes() == sla_file
    assert (rules_dir / "workflow.toml").read_bytes() == flow_file
    assert store.get("tickets", tickets.intake(store, staff, CLAIM), auth.SYSTEM)["escalated"] == 0
    assert "reopen" not in [s.name for s in workflow.load_workflow().available("closed", "staff")]
    assert [(v.version, v.effective_from) for v in office_rules.pending(store, manager, "sla")] == [
        (2, tomorrow.isoformat())]
    assert "claim_yuan = 10000" in rule_files.text_on(store, "sla", today)
    assert "claim_yuan = 5000" in rule_files.text_on(store, "sla", tomorrow)
    assert cli.main(["--db", str(store.location), "check"]) == 0             # what the file holds is what is checked

    later = time.time() + 86400                                          # a day later by the clock
    monkeypatch.setattr(time, "time", lambda: later)
    assert cli.main(["--db", str(store.location), "rules", "history", "sla"]) == 0     # the day's first command
    assert "claim_yuan = 5000" in (rules_dir / "sla.toml").read_text(encoding="utf-8")
    assert store.get("tickets", tickets.intake(store, staff, CLAIM), auth.SYSTEM)["escalated"] == 1
    assert "reopen" in [s.name for s in workflow.load_workflow().available("closed", "staff")]
    assert office_rules.pending(store, manager, "sla") == []
    written = store.conn.execute("SELECT after FROM kefu_audit WHERE action = 'rules_in_force' ORDER BY id").fetchall()
    assert [json.loads(a)["name"] for (a,) in written] == ["sla", "workflow"]
    assert rule_files.bring_in_force(store) == []                          # once


def test_check_brings_in_force_the_rules_of_the_database_it_is_given(store, manager, rules_dir, monkeypatch):
    """`--db X check` on the day a saved version takes effect: the file then holds X's version, whatever $KEFU_DB is."""
    office_rules.save_figures(store, manager, "sla", {"escalation.claim_yuan": "5000"},
                              effective_from=rule_files.today(store) + timedelta(days=1))
    later = time.time() + 86400
    monkeypatch.setattr(time, "time", lambda: later)
    assert cli.main(["--db", str(store.location), "check"]) == 0
    assert "claim_yuan = 5000" in (rules_dir / "sla.toml").read_text(encoding="utf-8")
    assert office_rules.pending(store, manager, "sla") == []


def test_a_save_from_today_is_made_in_a_version_waiting_for_a_later_day_too(store, manager, rules_dir):
    today = rule_files.today(store)
    later = today + timedelta(days=40)
    office_rules.save_figures(store, manager, "kpi", NEW_WEIGHTS, effective_from=later)
    office_rules.save_figures(store, manager, "kpi", {"ranking.deductions.per_fault": 8})
    now, then = (kpi.load_rules(text=rule_files.text_on(store, "kpi", day)) for day in (today, later))
    assert (now.per_fault, now.weights["satisfaction"]) == (8, 50)
    assert (then.per_fault, then.weights["satisfaction"]) == (8, 20)
    assert "per_fault = 8                 # points off" in (rules_dir / "kpi.toml").read_text(encoding="utf-8")
    assert [(v.version, v.effective_from, v.note) for v in kept(store, "kpi")][:2] == [
        (4, later.isoformat(), "version 2 with the changes of version 3"), (3, today.isoformat(), "")]
    before = (rules_dir / "kpi.toml").read_bytes()
    office_rules.save_figures(store, manager, "kpi", {"ranking.bonus.top": 5}, effective_from=later)
    assert kpi.load_rules(text=rule_files.text_on(store, "kpi", later)).weights["satisfaction"] == 20   # kept
    with pytest.raises(office_rules.PendingConflict) as caught:            # top 3 -> 5 waits; next 8 -> 4 today
        office_rules.save_figures(store, manager, "kpi", {"ranking.bonus.next": 4})
    assert caught.value.message("en").startswith(f"Version 5, waiting to take effect on {later.isoformat()}, cannot "
                                                 "take this change as well: KPI weights and rankings — ")
    assert "(ranking.bonus.next)" in caught.value.message("en")
    assert (rules_dir / "kpi.toml").read_bytes() == before and len(kept(store, "kpi")) == 5


def test_a_hand_edit_before_the_day_is_kept_and_the_waiting_version_still_comes(store, manager, rules_dir,
                                                                                monkeypatch):
    tomorrow = rule_files.today(store) + timedelta(days=1)
    office_rules.save_figures(store, manager, "club_surveys", {"threshold": 3})
    office_rules.save_figures(store, manager, "club_surveys", {"threshold": 4}, effective_from=tomorrow)
    path = rules_dir / "club_surveys.toml"
    path.write_text(path.read_text(encoding="utf-8").replace("min_answers = 10", "min_answers = 20"), encoding="utf-8")
    assert "min_answers = 20" in rule_files.text_on(store, "club_surveys", rule_files.today(store))  # the edit stands
    later = time.time() + 86400
    monkeypatch.setattr(time, "time", lambda: later)
    assert rule_files.bring_in_force(store) == ["club_surveys"]
    text = path.read_text(encoding="utf-8")
    assert "threshold = 4" in text and "min_answers = 10" in text
    assert [v.note for v in kept(store, "club_surveys")][:2] == ["version 3 again, after the hand edit", "edited by hand"]
    assert "min_answers = 20" in versions.get(store, "rules", "club_surveys", 4).body


# ---------------------------------------------------------------------------------------------- restore

def test_restore_brings_a_version_back_as_a_new_one(store, manager, rules_dir):
    original = (rules_dir / "incentives.toml").read_bytes()
    office_rules.save_figures(store, manager, "incentives", {"ranking_bonus.top": "1800"})
    office_rules.save_figures(store, manager, "incentives", {"ranking_bonus.next": "1200"})
    diff = office_rules.compare(store, manager, "incentives", 3)
    assert "-next = 1000                   # each of the second bonus places" in diff
    assert "+next = 1200                   # each of the second bonus places" in diff
    saved = office_rules.restore(store, manager, "incentives", 1, effective_from="2026-12-01")
    assert (rules_dir / "incentives.toml").read_bytes() == original
    assert (saved.version.version, saved.version.note) == (4, "restored version 1")
    assert {c.key: (c.before, c.after) for c in saved.changes} == {"ranking_bonus.top": (1800, 1500),
                                                                 "ranking_bonus.next": (1200, 1000)}


def test_a_version_the_loader_no_longer_accepts_is_not_restored(store, manager, rules_dir):
    with store.transaction() as conn:         # kept when the registers had another tier (a tier since removed)
        versions.record(store, conn, manager, "rules", "club", (rules_dir / "club.toml").read_text("utf-8")
                        .replace('value = "diamond"', 'value = "ruby"'), effective_from="2026-01-01")
    before = (rules_dir / "club.toml").read_bytes()
    with pytest.raises(RulesRefused) as caught:
        office_rules.restore(store, manager, "club", 1)
    assert caught.value.key == "tiers" and (rules_dir / "club.toml").read_bytes() == before
    assert caught.value.message("en") == ("Member club tiers — Member tiers (tiers): must be exactly the tiers of the "
                                          "members register (diamond, gold, platinum, silver). Nothing was saved.")
    assert len(kept(store, "club")) == 1


def test_the_command_line_applies_lists_and_restores(store, rules_dir, tmp_path, capsys, make_user):
    make_user("manager", "li-jingli")
    make_user("staff", "xiao-wang")
    edited = tmp_path / "club_surveys.toml"
    edited.write_text((rules_dir / "club_surveys.toml").read_text("utf-8").replace("threshold = 3.5", "threshold = 3.8"),
                      encoding="utf-8")
    db = ["--db", str(store.location)]
    assert cli.main([*db, "rules", "apply", str(edited), "--dry-run", "--lang", "en"]) == 0
    assert "threshold (Threshold (average 1-5)): 3.5 -> 3.8" in capsys.readouterr().out
    assert kept(store, "club_surveys") == []
    assert cli.main([*db, "rules", "apply", str(edited), "--user", "xiao-wang", "--lang", "en"]) == 2
    assert capsys.readouterr().err.strip() == "You do not have permission to do this."
    assert kept(store, "club_surveys") == []
    assert cli.main([*db, "rules", "apply", str(edited), "--from", "2026-12-01", "--user", "li-jingli",
                     "--lang", "en"]) == 0
    assert "Saved as version 2, in force from 2026-12-01." in capsys.readouterr().out
    assert (rules_dir / "club_surveys.toml").read_text("utf-8") == edited.read_text("utf-8")
    assert cli.main([*db, "rules", "history", "club_surveys", "--lang", "en"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in lines] == ["v2", "v1"] and "li-jingli\t2026-12-01" in lines[0]
    assert cli.main([*db, "rules", "restore", "club_surveys", "1", "--lang", "en"]) == 0
    assert "threshold = 3.5" in (rules_dir / "club_surveys.toml").read_text("utf-8")
    assert cli.main([*db, "rules", "restore", "club_surveys", "9", "--lang", "en"]) == 2
    assert "club_surveys has no version 9." in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------- previews

def test_the_ranking_preview_sets_the_new_weights_beside_the_current_ones(store, manager, two_quarters):
    a, b = two_quarters
    shown = office_rules.preview_figures(store, manager, "kpi", NEW_WEIGHTS, effective_from="2026-05-01",
                                         today=date(2026, 5, 20))
    ranking = shown.ranking
    assert (ranking.year, ranking.quarter, ranking.applies) == (2026, 2, True)
    assert [(r.name, r.place_before, r.score_before, r.place_after, r.score_after) for r in ranking.rows] == [
        ("Staff 3", 2, 46, 1, 76), ("Staff 2", 1, 50, 2, 20)]
    assert [(c.key, c.before, c.after) for c in shown.changes] == [
        ("ranking.weights.satisfaction", 50, 20), ("ranking.weights.skill_pass_rate", 20, 50)]
    later = office_rules.preview_figures(store, manager, "kpi", NEW_WEIGHTS, effective_from="2026-07-01",
                                         today=date(2026, 5, 20))
    assert not later.ranking.applies
    assert kept(store, "kpi") == []                                   # a preview writes nothing


def test_the_ranking_preview_says_who_gains_or_loses_a_bonus_place(store, manager, two_quarters):
    """Bonus places are paid from rules/incentives.toml (1,500 yuan places 1-3, 1,000 places 4-8)."""
    a, b = two_quarters
    shown = office_rules.preview_figures(store, manager, "kpi", {**NEW_WEIGHTS, "ranking.bonus.top": 1,
                                                                 "ranking.bonus.next": 2},
                                         effective_from="2026-05-01", today=date(2026, 5, 20)).ranking
    assert [(c.name, c.before, c.after, c.fen_before, c.fen_after, c.gains) for c in shown.bonus] == [
        ("Staff 2", "top", "next", 150000, 100000, False)]           # A falls to place 2, now a second place
    assert (shown.places_before, shown.places_after) == ({"top": {"first": 1, "last": 3}, "next": {"first": 4, "last": 8}},
                                                         {"top": {"first": 1, "last": 1}, "next": {"first": 2, "last": 2}})
    more = office_rules.preview_figures(store, manager, "kpi", {"ranking.bonus.top": 0, "ranking.bonus.next": 1},
                                        today=date(2026, 5, 20)).ranking
    assert [(c.name, c.before, c.after, c.gains) for c in more.bonus] == [("Staff 2", "top", "next", False),
                                                                           ("Staff 3", "top", None, False)]
    same = office_rules.preview_figures(store, manager, "kpi", NEW_WEIGHTS, today=date(2026, 5, 20)).ranking
    assert same.bonus == () and not same.bonus_approved


def test_the_incentive_preview_gives_the_totals_under_the_new_figures(store, manager, make_user):
    person = make_user("staff", "staff-w")
    store.insert_many("service_points", [{"staff": person.id, "done_on": "2026-10-15", "project_type": "repair",
                                          "project": f"FW-{n}"} for n in range(10)], auth.SYSTEM)   # 20 points
    shown = office_rules.preview_figures(store, manager, "incentives", {"performance.yuan_per_point": "300",
                                                                        "performance.base_points": 15},
                                         today=date(2026, 11, 20))
    october = shown.runs[0]
    assert (october.period, october.total_before, october.total_after) == ("2026-10", 3 * 27000, 5 * 30000)
    assert october.people == (("Staff 2", 81000, 150000),)
    approve_through_the_chain(store, manager, make_user, "2026-10")
    again = office_rules.preview_figures(store, manager, "incentives", {"performance.yuan_per_point": "300"},
                                         today=date(2026, 11, 20))
    assert [run.period for run in again.runs] == ["2026-09", "2026-Q4"]      # approved October is not offered


def test_the_sla_preview_and_save_retime_the_open_tickets_received_since_the_day(store, manager, make_user):
    staff = make_user("staff")
    values = {"channel": "hotline", "kind": "complaint", "category": "speed", "severity": "normal",
              "caller_name": "陈先生", "subject": "维修迟迟不上门"}
    new, old = tickets.intake(store, staff, values), tickets.intake(store, staff, values)
    store.conn.execute("UPDATE tickets SET created_at = ?, resolution_due = ? WHERE id = ?",
                       ("2026-12-01T10:00:00+08:00", "2026-12-03T16:00:00+08:00", new))   # 24 working hours
    store.conn.execute("UPDATE tickets SET created_at = ?, resolution_due = ? WHERE id = ?",
                       ("2026-11-20T10:00:00+08:00", "2026-11-24T16:00:00+08:00", old))
    change = {"targets.complaint.normal.resolution": 16}
    shown = office_rules.preview_figures(store, manager, "sla", change, effective_from="2026-12-01")
    assert [(d.ticket_id, d.resolution_before, d.resolution_after) for d in shown.dues] == [
        (new, "2026-12-03T16:00:00+08:00", "2026-12-02T17:00:00+08:00")]       # 8 h on the 1st, 8 on the 2nd
    assert shown.dues_kept == 1
    saved = office_rules.save_figures(store, manager, "sla", change, effective_from="2026-12-01")
    assert saved.retimed == 1
    due = dict(store.conn.execute("SELECT id, resolution_due FROM tickets"))
    assert due == {new: "2026-12-02T17:00:00+08:00", old: "2026-11-24T16:00:00+08:00"}


def test_every_figure_has_labels_and_writes_to_its_own_key(store, rules_dir):
    """Each figure is labelled in both languages, and setting it changes that key of the file and no other."""
    for name in office_rules.NAMES:
        text = (rules_dir / f"{name}.toml").read_text(encoding="utf-8")
        found = office_rules.figures(name, text, store.sheets)
        assert all(f.label["en"] and f.label["zh"] and f.kind in office_rules.KINDS for f in found)
        assert office_rules.text_with(name, text, {f.key: f.value for f in found}, store.sheets) == text
        numbers = {f.key: f.value + 1 for f in found if f.kind in office_rules.NUMBER_KINDS}
        bumped = office_rules.text_with(name, text, numbers, store.sheets)
        assert {c.key: c.after for c in office_rules.changes(name, text, bumped)} == numbers


# ---------------------------------------------------------------------------------------------- the screen

def test_the_screen_shows_what_changed_in_the_file_meanwhile_and_keeps_what_was_typed(demo_db, rules_dir):
    from apptest import login, open_page, submit
    path = rules_dir / "kpi.toml"
    at = open_page(login("demo-manager"), "office_rules")
    weight = "office_rules__kpi__ranking.weights.{}".format
    at.number_input(key=weight("satisfaction")).set_value(40)
    at.number_input(key=weight("skill_pass_rate")).set_value(30)
    path.write_text(path.read_text(encoding="utf-8").replace("per_fault = 0 ", "per_fault = 8 "), encoding="utf-8")
    at = submit(at, "保存")                                       # someone else saved per_fault = 8 meanwhile
    assert [e.value for e in at.error] == ["自您打开以来，此规则文件已被修改（变化见下方）。未保存；您填写的内容已保留。"]
    [shown] = [d.value for d in at.dataframe if "文件现在" in d.value.columns]
    assert shown.values.tolist() == [["每次本人过失投诉扣分", "ranking.deductions.per_fault", "0", "8"]]
    assert "-per_fault = 0 " in at.code[0].value and "+per_fault = 8 " in at.code[0].value
    assert (at.number_input(key=weight("satisfaction")).value, at.number_input(key=weight("skill_pass_rate")).value) \
        == (40, 30)
    assert "satisfaction = 50" in path.read_text(encoding="utf-8")
    at = submit(at, "采用文件的最新内容，保留我的修改")
    assert at.number_input(key="office_rules__kpi__ranking.deductions.per_fault").value == 8   # the file's new value
    assert at.number_input(key=weight("satisfaction")).value == 40                            # what was typed
    at = submit(at, "保存")
    assert not at.error
    text = path.read_text(encoding="utf-8")
    assert "satisfaction = 40" in text and "skill_pass_rate = 30" in text and "per_fault = 8 " in text


def test_the_screen_refuses_naming_the_key_keeps_what_was_typed_and_the_admin_only_reads(demo_db, rules_dir):
    from apptest import login, open_page, submit
    before = (rules_dir / "kpi.toml").read_bytes()
    at = open_page(login("demo-manager"), "office_rules")
    at.number_input(key="office_rules__kpi__ranking.weights.satisfaction").set_value(40)
    at = submit(at, "保存")
    assert [e.value for e in at.error] == ["绩效权重与排名 — 季度考核权重（百分比，合计 100） (ranking.weights)：合计须为 100，"
                                          "现为 90。未保存。"]
    assert at.number_input(key="office_rules__kpi__ranking.weights.satisfaction").value == 40
    assert (rules_dir / "kpi.toml").read_bytes() == before
    at = open_page(login("demo-admin"), "office_rules")
    assert "您可以查看规则及其历史；由部门经理和总经理修改。" in [i.value for i in at.info]
    assert not [b for b in at.button if b.label in ("保存", "预览变化")]
    assert at.number_input(key="office_rules__kpi__ranking.weights.satisfaction").disabled


def test_the_kpi_tables_weights_are_on_the_screen_and_one_not_adding_up_to_100_is_refused(demo_db, rules_dir):
    """客服部经理考核指标表 and 受理组主管考核指标表: their weights are figures of the form, labelled as the
    seed writes them; a table changed to add up to 90 is refused naming it, nothing written."""
    from apptest import login, open_page, shown, submit
    before = (rules_dir / "kpi.toml").read_bytes()
    at = open_page(login("demo-manager"), "office_rules")
    field = "office_rules__kpi__{}".format
    satisfaction = at.number_input(key=field("department.weights.satisfaction"))
    assert (shown(satisfaction.label), satisfaction.value) == ("部门人员总体服务质量（外部客户满意度）", 50)
    mbo = at.number_input(key=field("supervisor.weights.mbo"))
    assert (shown(mbo.label), mbo.value) == ("MBO管理", 10)
    assert at.number_input(key=field("targets.yearly_pass_rate")).value == 90
    assert "客服部经理考核指标表（百分比，合计 100）" in [shown(m.value).lstrip("# ") for m in at.markdown]
    satisfaction.set_value(40)
    at = submit(at, "保存")
    assert [e.value for e in at.error] == ["绩效权重与排名 — 客服部经理考核指标表（百分比，合计 100） (department.weights)："
                                          "合计须为 100，现为 90。未保存。"]
    assert at.number_input(key=field("department.weights.satisfaction")).value == 40      # what was typed stays
    assert (rules_dir / "kpi.toml").read_bytes() == before
