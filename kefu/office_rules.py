"""The office rules editor (办公规则): the figures of the rules files the office tunes, changed from the screen
(manager and gm; the administrator reads) or from the command line (`python -m kefu rules apply FILE.toml`).

- figures(): each editable figure of a file, with its key as the loaders name it, its kind (hours, weight,
  money, points, ...), its label and meaning in both languages, and the comment the file has on its line.
  The list is declared once here; the figures of a list in the file (project types, commission bands, tiers,
  workflow steps) come from the file itself.
- A save writes the new values into the file's own text (tomlkit: comments and layout kept), checks that
  text with the SAME loader the app reads it with (kefu/kpi.py, incentives.py, sla.py, club.py, surveys.py,
  workflow.py: one parser, one set of errors), and only then keeps it: a version in kefu_versions (who, when,
  the day it takes effect, audited with the figures before and after) and, from its day, the file on disk,
  in one transaction.
  A refusal (RulesRefused) names the key in the user's language and writes nothing.
- Effective dates: a save takes effect from a day the user picks (default today). The file on disk holds the
  text in force today: a save from a later day waits in the database and is written to the file on its day
  (kefu/rules.py bring_in_force), so every reader that does not work on a period (escalation, the
  workflow, fines, club, surveys) keeps today's figures until then. Readers that work on a period ask
  kefu/rules.py text_on for the text in force then, so an earlier quarter's ranking keeps its weights, and
  an approved incentive run keeps its stored figures. SLA hours apply to tickets by the day they were
  received: saving them re-times the open tickets received on or after the effective day, and no other.
- preview(): what a change would do before it is saved: the current quarter's staff ranking under the new
  KPI weights beside the current one, the totals of incentive runs not yet approved under the new figures,
  the due times of open tickets under the new SLA hours.
- history(), compare(), restore(): every version kept, compared, restored (checked again, a new version).

The screen and the command line call one function each (save_figures, apply_file), both through save_text.
"""
from __future__ import annotations

import difflib
import re
import threading
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import tomlkit

from kefu import auth, rules as rule_files, versions
from kefu.errors import KefuError, NotFound, PermissionDenied
from kefu.i18n import MESSAGES, label as pick, t
from kefu.rules import RulesError
from kefu.sheets import ROLES

VIEW = "office_rules"
NAMES = ("kpi", "incentives", "sla", "club", "club_surveys", "workflow")
EDITORS = frozenset({"manager", "gm"})
KINDS = ("hours", "weight", "ratio", "money", "points", "count", "score", "roles", "choice", "choices", "bool", "time")
NUMBER_KINDS = ("hours", "weight", "ratio", "money", "points", "count", "score")
_WRITE_LOCK = threading.Lock()


# ---------------------------------------------------------------------------------------------- who may

def may_read(actor) -> bool:
    return actor is not None and actor.active and (actor.role == "system" or auth.can_view(actor, VIEW))


def may_save(actor) -> bool:
    return actor is not None and actor.active and (actor.role == "system" or actor.role in EDITORS)


def require_read(actor) -> None:
    if not may_read(actor):
        raise PermissionDenied()


def require_save(actor) -> None:
    if not may_save(actor):
        raise PermissionDenied()


def check_name(name: str) -> str:
    if name not in NAMES:
        raise KefuError("or.unknown_file", name=name, names=", ".join(NAMES))
    return name


# ---------------------------------------------------------------------------------------------- figures

@dataclass(frozen=True)
class Figure:
    key: str                       # as the loaders name it: "ranking.weights.satisfaction", "tiers[2].points"
    path: tuple                    # in the parsed file: ("ranking", "weights", "satisfaction"), ("tiers", 1, "points")
    kind: str                      # one of KINDS
    label: dict                    # {"en", "zh"}
    meaning: dict                  # {"en", "zh"}: what it does, from the file's comments
    value: object                  # as the file holds it
    comment: str = ""              # the file's own comment on its line
    choices: tuple = ()            # roles, choice, choices: [(value, {"en", "zh"})]

    def label_in(self, lang: str) -> str:
        return pick(self.label, lang)

    def meaning_in(self, lang: str) -> str:
        return pick(self.meaning, lang)


@dataclass(frozen=True)
class Group:
    key: str                       # the table: "ranking.weights"
    label: dict
    meaning: dict
    figures: tuple
    comment: str = ""

    def label_in(self, lang: str) -> str:
        return pick(self.label, lang)

    def meaning_in(self, lang: str) -> str:
        return pick(self.meaning, lang)


def _pair(en: str, zh: str) -> dict:
    return {"en": en, "zh": zh}


FILE_LABELS = {
    "kpi": _pair("KPI weights and rankings", "绩效权重与排名"),
    "incentives": _pair("Incentives and fines", "奖惩标准"),
    "sla": _pair("Service time limits (SLA)", "服务时限"),
    "club": _pair("Member club tiers", "客户会等级"),
    "club_surveys": _pair("Satisfaction surveys", "满意度调查"),
    "workflow": _pair("Who takes each ticket step", "工单流程的处理角色"),
}


def key_of(path: tuple) -> str:
    """("tiers", 1, "points") -> "tiers[2].points": the key as the loaders' messages spell it."""
    text = ""
    for part in path:
        text += f"[{part + 1}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _node(doc, path: tuple):
    node = doc
    for part in path:
        node = node[part]
    return node


def _has(doc, path: tuple) -> bool:
    node = doc
    for part in path:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return False
    return True


def _plain(value):
    """A tomlkit item as a plain Python value."""
    return value.unwrap() if hasattr(value, "unwrap") else value


def _comment(doc, path: tuple) -> str:
    try:
        item = _node(doc, path)
        comment = item.trivia.comment if hasattr(item, "trivia") else ""
    except (KeyError, IndexError, TypeError, AttributeError):
        return ""
    return comment.lstrip("#").strip()


class _Builder:
    """Collects the groups of one file from its parsed text (tomlkit document)."""

    def __init__(self, doc):
        self.doc = doc
        self.groups: list[Group] = []

    def group(self, path: tuple, label: dict, meaning: dict, items: list) -> None:
        figures = tuple(figure for figure in items if figure is not None)
        if figures:
            self.groups.append(Group(key_of(path) if path else "", label, meaning, figures,
                                     _comment(self.doc, path) if path else ""))

    def figure(self, path: tuple, kind: str, label: dict, meaning: dict | None = None, choices: tuple = ()):
        if not _has(self.doc, path):
            return None
        return Figure(key_of(path), path, kind, label, meaning or _pair("", ""),
                      _plain(_node(self.doc, path)), _comment(self.doc, path), choices)


def _role_choices() -> tuple:
    return tuple((role, _pair(*MESSAGES.get(f"role.{role}", (role, role)))) for role in ROLES)


def _choice_labels(sheets: dict | None, sheet: str, field_name: str) -> dict:
    """value -> {en, zh} from a register's choice field (schema/*.toml), when the sheets are at hand."""
    found = (sheets or {}).get(sheet)
    if found is None or field_name not in found.by_name:
        return {}
    return {c["value"]: _pair(c.get("en", c["value"]), c.get("zh", c["value"])) for c in found.by_name[field_name].choices}


def _kpi(b: _Builder, sheets) -> None:
    weight_labels = {
        "satisfaction": _pair("External customer satisfaction", "外部客户满意度"),
        "skill_pass_rate": _pair("Service skill pass rate", "员工服务技能合格率"),
        "process_improvement": _pair("Process standardisation", "流程规范化"),
        "internal_satisfaction": _pair("Internal customer satisfaction", "内部客户满意度"),
        "report_timeliness": _pair("Accuracy and timeliness of reports", "报表准确及时性"),
    }
    weight_meanings = {
        "satisfaction": _pair("Computed from the quarter's data (see the shares below).", "由本季度数据计算（见下方构成比例）。"),
    }
    entered = _pair("Entered by the manager in the quarterly review (季度考核评分).", "由经理在季度考核评分中录入。")
    b.group(("ranking", "weights"), _pair("Quarterly ranking weights (percent, adding up to 100)",
                                          "季度考核权重（百分比，合计 100）"),
            _pair("Each part's weight in a staff member's total score. The rulebooks give no table for ranking "
                  "staff: these figures are the office's own choice (shipped as 50, 20, 10, 10, 10).",
                  "各项在员工总分中所占的权重。制度未规定员工排名的考核表：此处为本部门自定（默认 50、20、10、10、10）。"),
            [b.figure(("ranking", "weights", k), "weight", v, weight_meanings.get(k, entered))
             for k, v in weight_labels.items()])
    b.group(("ranking", "satisfaction"), _pair("How customer satisfaction is computed (percent shares, adding up to 100)",
                                               "客户满意度的构成（百分比，合计 100）"),
            _pair("Each figure on a 0-100 scale; a figure without data is left out and the others carry its share.",
                  "各项按 0-100 计；无数据的项不计，其份额由其余各项分摊。"),
            [b.figure(("ranking", "satisfaction", "follow_up"), "weight", _pair("Follow-up score", "回访评分"),
                      _pair("The follow-up call's 1-5 stars as 0-100.", "回访的 1-5 星折算为 0-100。")),
             b.figure(("ranking", "satisfaction", "on_time"), "weight", _pair("On-time rate", "按时解决率"),
                      _pair("Resolved tickets resolved by their due time.", "已解决工单中按时解决的比例。")),
             b.figure(("ranking", "satisfaction", "spot_check"), "weight", _pair("Spot-check pass rate", "质检合格率"),
                      _pair("The weekly quality spot checks passed.", "每周质检抽查的合格比例。"))])
    b.group(("ranking",), _pair("Deductions, bonus places and who is ranked", "扣分、奖励名次与参评人员"),
            _pair("", ""),
            [b.figure(("ranking", "deductions", "per_fault"), "points", _pair("Points off per own-fault complaint",
                                                                               "每次本人过失投诉扣分"),
                      _pair("Taken off the total for each complaint found to be the person's own fault. An office "
                            "option, off at 0: no rulebook gives it.",
                            "每有一次经查属本人过失的投诉，从总分中扣除的分数。为本部门自选项，0 即不扣分：制度未规定。")),
             b.figure(("ranking", "bonus", "top"), "count", _pair("First bonus places (1 to …)", "一等奖励名次（第 1 至…名）"),
                      _pair("Places 1 to this are marked for the higher quarterly bonus (rules/incentives.toml); "
                            "the rulebook's: 1-3.", "第 1 名至此名次获较高的季度评优奖励（金额见奖惩标准）；制度为第 1-3 名。")),
             b.figure(("ranking", "bonus", "next"), "count", _pair("Second bonus places (… to)", "二等奖励名次（…至第几名）"),
                      _pair("The places after the first ones, up to this, get the second bonus; the rulebook's: 4-8.",
                            "一等名次之后至此名次获第二档奖励；制度为第 4-8 名。")),
             b.figure(("ranking", "roles"), "roles", _pair("Who is ranked", "参评角色"),
                      _pair("The roles whose members appear on the staff ranking.", "出现在员工排名中的角色。"),
                      _role_choices())])
    by_gm = _pair("Entered by the gm or HR in the department's quarterly review (部门季度考核评分).",
                  "由总经理或人事在部门季度考核评分中录入。")
    by_manager = _pair("Entered by the manager in the supervisor's quarterly review (季度考核评分).",
                       "由经理在主管的季度考核评分中录入。")
    department = {
        "satisfaction": (_pair("Overall service quality (external customer satisfaction)",
                               "部门人员总体服务质量（外部客户满意度）"),
                         _pair("The quarter's follow-up scores, 1-5 stars as 0-100.", "本季度回访评分，1-5 星折算为 0-100。")),
        "skill_pass_rate": (_pair("Staff service quality and skill pass rate", "部门人员服务素质、岗位技能合格率"),
                            _pair("The mean skill pass rate of the staff's quarterly reviews.",
                                  "员工季度考核评分中技能合格率的平均值。")),
        "process_improvement": (_pair("Process standardisation improved", "流程标准化改善程度"), by_gm),
        "internal_satisfaction": (_pair("Internal customer satisfaction", "内部客户满意度"), by_gm),
        "report_timeliness": (_pair("Service analysis reports accurate, on time, complete",
                                    "服务分析报表的准确性、及时性、全面性"), by_gm),
    }
    b.group(("department", "weights"), _pair("The department manager's KPI table (percent, adding up to 100)",
                                             "客服部经理考核指标表（百分比，合计 100）"),
            _pair("Scores the department for a quarter. The rulebook's table: 50, 20, 10, 10, 10.",
                  "按季度为客服部评分。制度中的考核表为 50、20、10、10、10。"),
            [b.figure(("department", "weights", k), "weight", label, meaning)
             for k, (label, meaning) in department.items()])
    supervisor = {
        "complaint_satisfaction": (_pair("Overall satisfaction with complaint handling", "投诉处理总体客户满意度"),
                                   _pair("Follow-up scores of the team's complaints, 1-5 stars as 0-100.",
                                         "本组投诉工单的回访评分，1-5 星折算为 0-100。")),
        "report_timeliness": (_pair("Statistics and feedback reports on time and accurate",
                                    "信息统计、信息反馈报表和报告的及时性和准确性"), by_manager),
        "internal_satisfaction": (_pair("Internal customer satisfaction", "内部客户满意度"), by_manager),
        "skill_improvement": (_pair("The team's skill improvement", "本组人员技能提升效果"),
                              _pair("The mean skill pass rate of the team's quarterly reviews.",
                                    "本组员工季度考核评分中技能合格率的平均值。")),
        "service_quality": (_pair("Service quality", "服务质量"),
                            _pair("The team's quality spot checks passed, percent.", "本组质检抽查的合格比例。")),
        "mbo": (_pair("MBO management", "MBO管理"), by_manager),
    }
    b.group(("supervisor", "weights"), _pair("The intake supervisor's KPI table (percent, adding up to 100)",
                                             "受理组主管考核指标表（百分比，合计 100）"),
            _pair("Scores each supervisor for a quarter, on his team's figures (Teams register). The rulebook's "
                  "table: 40, 20, 10, 10, 10, 10.",
                  "按季度为每位主管评分，取其班组的数据（班组登记）。制度中的考核表为 40、20、10、10、10、10。"),
            [b.figure(("supervisor", "weights", k), "weight", label, meaning)
             for k, (label, meaning) in supervisor.items()])
    b.group(("targets",), _pair("Pass-rate targets (percent)", "合格率目标（百分比）"),
            _pair("Shown on the dashboard beside the actual figures.", "在看板上与实际数字并列显示。"),
            [b.figure(("targets", "quarterly_pass_rate"), "count", _pair("Average quarterly pass rate", "平均季度合格率"),
                      _pair("Against the quarter's quality spot checks passed; the rulebook's: 85.",
                            "对照本季度质检抽查合格率；制度为 85。")),
             b.figure(("targets", "yearly_pass_rate"), "count", _pair("Yearly overall pass rate", "年度总体合格率"),
                      _pair("Against the spot checks passed from 1 January; the rulebook's: 90.",
                            "对照自 1 月 1 日起的质检抽查合格率；制度为 90。")),
             b.figure(("targets", "overall_pass_rate"), "count", _pair("Overall pass rate", "总体合格率"),
                      _pair("Against the staff's mean skill pass rate of the quarterly reviews; the rulebook's: 95.",
                            "对照员工季度考核评分中技能合格率的平均值；制度为 95。"))])
    b.group(("dashboard",), _pair("Dashboard", "看板"), _pair("", ""),
            [b.figure(("dashboard", "refresh_seconds"), "count", _pair("Refresh every (seconds)", "自动刷新间隔（秒）"),
                      _pair("The dashboard refreshes itself this often (each user may pause it).",
                            "看板按此间隔自动刷新（每位用户可暂停）。")),
             b.figure(("dashboard", "trend_months"), "count", _pair("Trend months", "趋势月数"),
                      _pair("The ticket trend covers this many months.", "工单趋势图覆盖的月数。")),
             b.figure(("dashboard", "satisfied_from"), "count", _pair("Satisfied from (score 1-5)", "满意分数线（1-5）"),
                      _pair("A follow-up score of this or more counts as satisfied.", "回访评分达到此分即计为满意。"))])


def _incentives(b: _Builder, sheets) -> None:
    b.group(("performance",), _pair("Monthly performance", "月度绩效"),
            _pair("Service points per project; points above the base are paid per point.",
                  "按项目计服务分；超出基础分的部分按分计酬。"),
            [b.figure(("performance", "base_points"), "points", _pair("Base points a month", "每月基础分"),
                      _pair("Points up to this are not paid.", "此分数以内不计酬。")),
             b.figure(("performance", "yuan_per_point"), "money", _pair("Yuan per point above the base", "超出部分每分金额（元）"),
                      _pair("Each point above the base pays this.", "超出基础分的每一分支付此金额。")),
             b.figure(("performance", "incident_points"), "points", _pair("Points off per safety incident", "每起安全事故扣分"),
                      _pair("Each safety incident of the month takes off this many points.", "当月每发生一起安全事故扣除的分数。"))])
    types = _choice_labels(sheets, "service_points", "project_type")
    coefficients = _node(b.doc, ("coefficients",)) if _has(b.doc, ("coefficients",)) else {}
    b.group(("coefficients",), _pair("Points per project type", "项目系数表"),
            _pair("Service points earned per project of each type (whole or decimal).", "每类项目计得的服务分（可为小数）。"),
            [b.figure(("coefficients", name), "points", types.get(name, _pair(name, _comment(b.doc, ("coefficients", name)) or name)))
             for name in coefficients])
    b.group(("ranking_bonus",), _pair("Quarterly ranking bonus (yuan)", "季度评优奖励（元）"),
            _pair("Paid to the bonus places of the staff ranking (the places are set under KPI weights and rankings).",
                  "按员工季度排名的奖励名次发放（名次在“绩效权重与排名”中设置）。"),
            [b.figure(("ranking_bonus", "top"), "money", _pair("First bonus places", "一等奖励名次"),
                      _pair("Paid to each of the first bonus places (the rulebook's places 1-3).",
                            "一等奖励名次每人金额（制度为第 1-3 名）。")),
             b.figure(("ranking_bonus", "next"), "money", _pair("Second bonus places", "二等奖励名次"),
                      _pair("Paid to each of the second bonus places (the rulebook's places 4-8).",
                            "二等奖励名次每人金额（制度为第 4-8 名）。"))])
    shares = [b.figure(("commission", "person_share"), "ratio", _pair("Salesperson's share (%)", "销售人员分成（%）"),
                       _pair("Of the commission, to the salesperson; the rest goes to the department pool.",
                             "提成中归销售人员的比例，其余归部门。")),
              b.figure(("commission", "pool_share"), "ratio", _pair("Department pool's share (%)", "部门分成（%）"),
                       _pair("Of the commission, to the department pool. The two shares add up to 100.",
                             "提成中归部门的比例。两者合计 100。"))]
    bands = _node(b.doc, ("commission", "bands")) if _has(b.doc, ("commission", "bands")) else []
    for number in range(len(bands)):
        where = _pair(f"Band {number + 1}", f"第 {number + 1} 档")
        shares += [b.figure(("commission", "bands", number, "margin_from"), "ratio",
                            _pair(f"{where['en']}: margin from (%)", f"{where['zh']}：毛利率自（%）"),
                            _pair("The band holds sales with a margin of this or more.", "毛利率不低于此值的销售属于本档。")),
                   b.figure(("commission", "bands", number, "margin_below"), "ratio",
                            _pair(f"{where['en']}: margin below (%)", f"{where['zh']}：毛利率低于（%）"),
                            _pair("... and below this (the last band may leave it open).", "……且低于此值（最后一档可不设上限）。")),
                   b.figure(("commission", "bands", number, "rate"), "ratio",
                            _pair(f"{where['en']}: commission (% of the amount)", f"{where['zh']}：提成（销售额的 %）"),
                            _pair("Commission on a fully paid sale in this band.", "本档已全额回款销售的提成比例。"))]
    b.group(("commission",), _pair("Spare-parts sales commission", "配件销售提成"),
            _pair("Counted in the quarter the sale is fully paid; bands by margin must not overlap.",
                  "在销售全额回款的季度计算；各毛利率档不得重叠。"), shares)
    b.group(("rewards",), _pair("Rewards (yuan)", "奖励（元）"),
            _pair("A range is a judgement within bounds; a single figure is paid per record.",
                  "区间：在上下限内酌定金额；单一金额：每条记录按此发放。"),
            [b.figure(("rewards", "praise_letter", "min"), "money", _pair("Praise letter: at least", "客户表扬信：最低"),
                      _pair("A customer's praise letter (or e-mail).", "客户表扬信（含邮件）。")),
             b.figure(("rewards", "praise_letter", "max"), "money", _pair("Praise letter: at most", "客户表扬信：最高")),
             b.figure(("rewards", "cost_saving", "min"), "money", _pair("Verified cost saving: at least", "经核实的节约成本：最低")),
             b.figure(("rewards", "cost_saving", "max"), "money", _pair("Verified cost saving: at most", "经核实的节约成本：最高")),
             b.figure(("rewards", "no_repeat_project"), "money", _pair("Project without repeat repair (each)", "项目半年无返修（每项）"),
                      _pair("A project with no repeat repair for half a year.", "项目半年内无返修，每项发放。"))])
    b.group(("fines",), _pair("Fines (yuan)", "罚款（元）"), _pair("Per record.", "按每条记录。"),
            [b.figure(("fines", "own_fault_complaint"), "money", _pair("Complaint found to be one's own fault", "被投诉经查属本人过失"),
                      _pair("Written as a fine line when the manager attributes the fault.", "经理认定本人过失时记一条罚款。")),
             b.figure(("fines", "unsigned_record"), "money", _pair("Service record not signed by the customer", "服务单未经客户签字")),
             b.figure(("fines", "unsigned_record_approved"), "money", _pair("... unless approved", "经批准的除外"),
                      _pair("The fine for an unsigned record that was approved (usually 0).", "未签字但经批准的服务单的罚款（通常为 0）。"))])
    b.group(("no_repeat",), _pair("Project without repeat service for half a year", "项目半年无返修"),
            _pair("Counted from the service points each half-year (June and December), not entered.",
                  "每半年（6 月、12 月）按服务积分统计，不逐条录入。"),
            [b.figure(("no_repeat", "project_types"), "choices", _pair("Commissioned project types", "调试项目类别"),
                      _pair("Projects of these types earn the reward when not repeated.", "这些类别的项目无返修即可获奖励。"),
                      tuple(types.items())),
             b.figure(("no_repeat", "months"), "count", _pair("Months without repeat (and between counts)", "无返修月数（统计周期）"),
                      _pair("6: half a year. A divisor of 12.", "6 即半年；须能整除 12。"))])
    b.group(("payment",), _pair("Payment month", "发放月份"),
            _pair("Months after a period's end that its run is paid in.", "核算期结束后第几个月发放。"),
            [b.figure(("payment", "after_quarter"), "count", _pair("A quarter's run: months after the quarter", "季度核算：季度结束后月数"),
                      _pair("1: paid in April, July, October and January.", "1 即每年 4、7、10 月及次年 1 月发放。")),
             b.figure(("payment", "after_month"), "count", _pair("A month's run: months after the month", "月度核算：当月结束后月数"))])
    b.group(("approval",), _pair("Approving a run", "审批"), _pair("", ""),
            [b.figure(("approval", "prepare"), "roles", _pair("Who prepares a run", "提交核算的角色"),
                      _pair("Computes the run and sends it for checking.", "计算核算并提交核实。"), _role_choices()),
             b.figure(("approval", "checks"), "roles", _pair("Who checks it, in order", "依次核实的角色"),
                      _pair("Each checks the run in this order (财务部、人力发展部核实计算).", "按此顺序逐一核实（财务部、人力发展部核实计算）。"),
                      _role_choices()),
             b.figure(("approval", "approve"), "roles", _pair("Who approves it", "批准的角色"),
                      _pair("Approves after every check; the period is then locked (提交总经理批准).",
                            "全部核实后批准，批准后本期锁定（提交总经理批准）。"), _role_choices()),
             b.figure(("approval", "roles"), "roles", _pair("Who approves a run", "审批角色"),
                      _pair("The roles that compute and approve the incentive runs.", "计算并审批奖惩核算的角色。"),
                      _role_choices()),
             b.figure(("approval", "lock"), "choice", _pair("A change to an approved period", "已审批期间的修改"),
                      _pair("Refuse it (the record is locked), or allow it and pay the difference in the next run.",
                            "拒绝（记录锁定），或允许修改并在下期核算中调整差额。"),
                      (("refuse", _pair("Refused (locked)", "拒绝（锁定）")),
                       ("next_period", _pair("Difference in the next period", "差额计入下期"))))])


SLA_KINDS = ("complaint", "inquiry", "suggestion", "praise")
SLA_SEVERITIES = ("normal", "major", "emergency")


def _sla(b: _Builder, sheets) -> None:
    kinds = _choice_labels(sheets, "tickets", "kind")
    severities = _choice_labels(sheets, "tickets", "severity")
    b.group(("hours",), _pair("Working hours", "工作时间"),
            _pair("Time limits count working hours between these, on working days (public holidays and 调休 respected); "
                  "where the clock follows the duty roster, a day with shifts rostered counts their hours instead.",
                  "时限按工作日的上下班时间之间的工作小时计算（含法定节假日与调休）；按排班表计时时，排了班的日子按所排班次的时间计算。"),
            [b.figure(("hours", "start"), "time", _pair("Opens", "上班时间")),
             b.figure(("hours", "end"), "time", _pair("Closes", "下班时间")),
             b.figure(("hours", "follow_roster"), "bool", _pair("Follow the duty roster", "按排班表计时"),
                      _pair("On: a day with shifts rostered counts the hours of those shifts (a holiday too); a day "
                            "with none keeps the hours above.",
                            "开启后：排了班的日子按所排班次的时间计时（节假日亦然）；未排班的日子仍按上面的工作时间。"))])
    shifts = _node(b.doc, ("shifts",)) if _has(b.doc, ("shifts",)) else {}
    shift_names = {"day": _pair("Day shift", "白班"), "evening": _pair("Evening shift", "晚班")}
    rostered = _choice_labels(sheets, "roster", "shift")            # a shift the office added to the roster
    items = []
    for shift in shifts:
        name = shift_names.get(shift) or rostered.get(shift) or _pair(shift, shift)
        items += [b.figure(("shifts", shift, "start"), "time", _pair(f"{name['en']}: starts", f"{name['zh']}：上班")),
                  b.figure(("shifts", shift, "end"), "time", _pair(f"{name['en']}: ends", f"{name['zh']}：下班"))]
    b.group(("shifts",), _pair("Shifts of the duty roster", "排班班次时间"),
            _pair("The hours of each shift (the rulebook, seed 002: 白班9:00-18:00, 晚班14:00-23:00); used when the "
                  "clock follows the roster.", "各班次的上下班时间（制度原文：白班9:00-18:00，晚班14:00-23:00）；按排班表计时时使用。"),
            items)
    for kind in SLA_KINDS:
        name = kinds.get(kind, _pair(kind, kind))
        items = []
        for severity in SLA_SEVERITIES:
            level = severities.get(severity, _pair(severity, severity))
            items += [b.figure(("targets", kind, severity, "response"), "hours",
                               _pair(f"{level['en']}: response", f"{level['zh']}：响应"),
                               _pair("Working hours to the first response.", "首次响应的工作小时数。")),
                      b.figure(("targets", kind, severity, "resolution"), "hours",
                               _pair(f"{level['en']}: resolution", f"{level['zh']}：解决"),
                               _pair("Working hours to the resolution; not shorter than the response.",
                                     "解决的工作小时数；不得短于响应时限。"))]
        b.group(("targets", kind), _pair(f"{name['en']}: time limits (working hours)", f"{name['zh']}：时限（工作小时）"),
                _pair("Applies to tickets received from the day it takes effect.", "适用于生效日及以后受理的工单。"), items)
    b.group(("escalation",), _pair("Escalation to the department manager", "上报部门经理"),
            _pair("Goes to the department manager at once, and needs the manager's approval.",
                  "立即上报部门经理，并须经理审批。"),
            [b.figure(("escalation", "claim_yuan"), "money", _pair("A claim of this amount or more (yuan)", "索赔金额达到（元）"),
                      _pair("一万元以上索赔: a claim at or over this is escalated.", "索赔金额达到此数即上报。")),
             b.figure(("escalation", "group_complaint"), "bool", _pair("Group complaints are escalated", "群诉上报"),
                      _pair("A group complaint (群诉) goes to the manager.", "群诉即上报部门经理。")),
             b.figure(("escalation", "severity"), "choices", _pair("Severities escalated", "上报的紧急程度"),
                      _pair("Tickets of these severities are escalated (突发事件).", "这些紧急程度的工单即上报（突发事件）。"),
                      tuple((s, severities.get(s, _pair(s, s))) for s in SLA_SEVERITIES))])
    b.group(("lists",), _pair("Work lists", "工作清单"), _pair("", ""),
            [b.figure(("lists", "due_soon_hours"), "hours", _pair("\"Due soon\" within (working hours)", "“即将到期”提前（工作小时）"),
                      _pair("A ticket whose resolution is due within this many working hours is listed as due soon.",
                            "解决时限在此工作小时数内到期的工单列为即将到期。"))])


def _club(b: _Builder, sheets) -> None:
    tiers = _node(b.doc, ("tiers",)) if _has(b.doc, ("tiers",)) else []
    items = []
    for number, tier in enumerate(tiers):
        name = _pair(str(tier.get("en", tier.get("value"))), str(tier.get("zh", tier.get("value"))))
        items.append(b.figure(("tiers", number, "points"), "points",
                              _pair(f"{name['en']}: from points", f"{name['zh']}：积分达到"),
                              _pair("Lifetime points from which an upgrade to this tier is suggested; each tier above the one before.",
                                    "累计积分达到此数即建议升至本等级；各等级须依次递增。")))
    b.group(("tiers",), _pair("Member tiers", "会员等级"),
            _pair("Lowest tier first. The tiers themselves are those of the members register.",
                  "由低到高排列；等级本身与会员登记表的等级一致。"), items)
    b.group((), _pair("Upgrades and customer care", "升级与客户关怀"), _pair("", ""),
            [b.figure(("upgrade_roles",), "roles", _pair("Who may apply an upgrade", "可执行升级的角色"),
                      _pair("The roles that may apply a suggested upgrade.", "可执行建议升级的角色。"), _role_choices()),
             b.figure(("care_days",), "count", _pair("Customer care looks ahead (days)", "客户关怀提前天数"),
                      _pair("Birthdays, anniversaries and renewals this many days ahead are listed.",
                            "列出此天数内的生日、入会周年与续期。"))])


def _club_surveys(b: _Builder, sheets) -> None:
    b.group((), _pair("Corrective action prompt", "纠正预防措施提示"),
            _pair("An average at or below the threshold in the watched period asks the manager for a corrective action.",
                  "观察期内平均分不高于阈值时，提示经理采取纠正预防措施。"),
            [b.figure(("threshold",), "score", _pair("Threshold (average 1-5)", "阈值（平均分 1-5）")),
             b.figure(("window",), "choice", _pair("Period watched", "观察期"), _pair("", ""),
                      (("last_30_days", _pair("The last 30 days", "最近 30 天")),
                       ("month", _pair("The current calendar month", "本自然月")))),
             b.figure(("min_answers",), "count", _pair("At least this many answers", "最少答卷数"),
                      _pair("Fewer answers in the period are too few to judge: no prompt.", "观察期内答卷少于此数时不作判断。"))])
    b.group((), _pair("The yearly full survey", "年度全面满意度调查"),
            _pair("At least one full satisfaction survey a year (每年至少进行一次全面的顾客满意度调查).",
                  "每年至少进行一次全面的顾客满意度调查。"),
            [b.figure(("full_survey_months",), "count", _pair("Remind after this many months without one",
                                                             "超过此月数未做全面调查时提醒"),
                      _pair("The home screen reminds those who record survey campaigns.",
                            "首页提醒负责登记调查活动的人员。")),
             b.figure(("report_approvers",), "roles", _pair("Who approves the analysis report", "调查分析报告审批人"),
                      _pair("A survey analysis report is released only after one of these roles approved it.",
                            "满意度调查分析报告须经这些角色审批后方可发放。"), _role_choices())])


def _workflow(b: _Builder, sheets) -> None:
    steps = _node(b.doc, ("transitions",)) if _has(b.doc, ("transitions",)) else []
    items = []
    for number, step in enumerate(steps):
        label = step.get("label", {})
        items.append(b.figure(("transitions", number, "roles"), "roles",
                              _pair(str(label.get("en", step.get("name"))), str(label.get("zh", step.get("name")))),
                              _pair("The roles that may take this step.", "可执行此步骤的角色。"), _role_choices()))
    b.group(("transitions",), _pair("Who may take each step", "各步骤的处理角色"),
            _pair("The states and the steps between them stay as they are; only who may take a step is changed here.",
                  "流程的状态与步骤保持不变，此处只修改谁可以执行。"), items)
    acts = _node(b.doc, ("actions",)) if _has(b.doc, ("actions",)) else {}
    act_labels = {name: _pair(*MESSAGES.get(f"act.{name}", (name, name))) for name in acts}
    b.group(("actions",), _pair("Other acts on a ticket", "工单的其他操作"), _pair("", ""),
            [b.figure(("actions", name), "roles", act_labels[name], _pair("", ""), _role_choices()) for name in acts]
            + [b.figure(("spot_check", "per_staff"), "count", _pair("Spot check: tickets per staff member and week",
                                                                   "质检抽查：每人每周抽查工单数"))])


_BUILDERS = {"kpi": _kpi, "incentives": _incentives, "sla": _sla, "club": _club, "club_surveys": _club_surveys,
             "workflow": _workflow}


def groups(name: str, text: str, sheets: dict | None = None) -> list[Group]:
    """The editable figures of rules/<name>.toml as it reads in `text`, grouped by table. sheets (the
    registers) give the labels of project types, ticket kinds and severities."""
    check_name(name)
    builder = _Builder(tomlkit.parse(text))
    _BUILDERS[name](builder, sheets)
    return builder.groups


def figures(name: str, text: str, sheets: dict | None = None) -> list[Figure]:
    return [figure for group in groups(name, text, sheets) for figure in group.figures]


def _labels(name: str, text: str | None, sheets) -> dict:
    """key -> {en, zh} of every figure and group of the file (for naming a refused key)."""
    found = {}
    for source in (text, _disk(name)):
        try:
            for group in groups(name, source, sheets):
                found.setdefault(group.key, group.label)
                for figure in group.figures:
                    found.setdefault(figure.key, figure.label)
        except Exception:                       # a text that does not parse: its keys keep their names
            continue
    return found


# ---------------------------------------------------------------------------------------------- checking

class RulesRefused(KefuError):
    """A rules text the app's own loader refuses: names the key (its label in the user's language)."""
    code = "or.refused"

    def __init__(self, name: str, error: RulesError, labels: dict):
        super().__init__("or.refused", name=name)
        self.name, self.error, self.labels = name, error, labels
        self.key = error.key

    def label_of(self, key: str | None, lang: str) -> str:
        if not key:
            return ""
        if key in self.labels:
            return f"{pick(self.labels[key], lang)} ({key})"
        parent = key.rsplit(".", 1)[0]
        if parent in self.labels:
            return f"{pick(self.labels[parent], lang)} · {key.rsplit('.', 1)[-1]} ({key})"
        return key

    def message(self, lang: str) -> str:
        error = self.error
        if error.code:
            params = {k: (self.label_of(v, lang) if k == "other" else v) for k, v in error.params.items()}
            reason = t(error.code, lang, **params)
        else:
            reason = str(error).split(": ", 1)[-1]
        where = pick(FILE_LABELS[self.name], lang)
        if error.key:
            return t("or.refused_key", lang, file=where, label=self.label_of(error.key, lang), reason=reason)
        return t("or.refused_file", lang, file=where, reason=reason)


def load(store, name: str, text: str):
    """The rules of `text` read by the loader the app uses for rules/<name>.toml, with the same
    cross-checks as `python -m kefu check` (project types, member tiers from the registers)."""
    from kefu import club, incentives, kpi, sla, surveys, workflow
    path = rule_files.file(name)
    if name == "kpi":
        return kpi.load_rules(path, text=text)
    if name == "incentives":
        return incentives.rules_for(store, path, text=text)
    if name == "sla":
        return sla.load_rules(path, tz=store.settings.tz, text=text, store=store)
    if name == "club":
        return club.load_rules(path, tier_choices=[c["value"] for c in store.sheet(club.MEMBERS).by_name["tier"].choices],
                               text=text)
    if name == "club_surveys":
        return surveys.load_rules(path, text=text)
    return workflow.load_workflow(path, text=text)


def check(store, name: str, text: str):
    """The loaded rules, or RulesRefused naming the key. Nothing is written."""
    check_name(name)
    try:
        return load(store, name, text)
    except RulesError as exc:
        raise RulesRefused(name, exc, _labels(name, text, store.sheets)) from None


# ---------------------------------------------------------------------------------------------- editing the text

def _number(figure: Figure, raw, name: str, sheets) -> int | float:
    if isinstance(raw, bool):
        raw = str(raw)
    try:
        number = Decimal(str(raw).strip().replace(",", "").replace("，", "")) if not isinstance(raw, Decimal) else raw
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        raise RulesRefused(name, RulesError(f"{figure.key}: not a number", key=figure.key, code="rl.number", value=raw),
                           {figure.key: figure.label})
    return int(number) if number == number.to_integral_value() else float(number)


def value_for(figure: Figure, raw, name: str = "", sheets=None):
    """The form's value as the file will hold it: a number (whole when it is whole), a list, text or a flag.
    Nothing is rounded: a figure the loader does not accept (fractions of a fen) is refused by the loader."""
    if figure.kind in NUMBER_KINDS:
        return _number(figure, raw, name, sheets)
    if figure.kind in ("roles", "choices"):
        return [str(v) for v in (raw or [])]
    if figure.kind == "bool":
        return bool(raw)
    return str(raw if raw is not None else "").strip()


def same_value(figure: Figure, raw, name: str = "") -> bool:
    """The form's value is the figure's own (the input was not changed)."""
    return _same(value_for(figure, raw, name), figure.value)


def _same(a, b) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return Decimal(str(a)) == Decimal(str(b))
    return a == b


def _shown(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format(Decimal(str(value)).normalize(), "f")
    return str(value)


def text_with(name: str, text: str, values: dict, sheets=None) -> str:
    """`text` with the figures of `values` (key -> the form's value) set, its comments and layout kept; a
    comment on the line that repeats the old figure once (\"# 每月基础分 17 分\") says the new one."""
    doc = tomlkit.parse(text)
    by_key = {figure.key: figure for figure in figures(name, text, sheets)}
    for key, raw in values.items():
        figure = by_key.get(key)
        if figure is None:
            raise KefuError("or.unknown_key", key=key)
        new = value_for(figure, raw, name, sheets)
        if _same(new, figure.value):
            continue
        *parents, last = figure.path
        parent = _node(doc, tuple(parents))
        before = parent[last]
        trivia = getattr(before, "trivia", None)
        comment, spacing = (trivia.comment, trivia.comment_ws) if trivia is not None else ("", "")
        parent[last] = new
        after = parent[last]
        if comment and hasattr(after, "trivia"):
            old_text, new_text = _shown(figure.value), _shown(new)
            pattern = rf"(?<![\d.]){re.escape(old_text)}(?![\d.])"
            if not isinstance(figure.value, (list, bool)) and len(re.findall(pattern, comment)) == 1:
                comment = re.sub(pattern, new_text, comment)
            after.trivia.comment = comment
            after.trivia.comment_ws = " " * max(1, len(spacing) - (len(new_text) - len(old_text))) \
                if isinstance(new, (int, float)) and not isinstance(figure.value, (list, bool)) else spacing
    return tomlkit.dumps(doc)


def flat(text: str) -> dict:
    """Every value of a rules text by its key ("tiers[2].points"), for the audit's before and after."""
    try:
        return {key: value for key, (_, value) in _flat_paths(text).items()}
    except tomllib.TOMLDecodeError:
        return {}


@dataclass(frozen=True)
class Change:
    key: str
    label: dict
    before: object
    after: object


def changes(name: str, old: str, new: str, sheets=None) -> list[Change]:
    """The values that differ between two texts of a file, labelled when they are editable figures."""
    labels = {}
    for source in (new, old):
        try:
            for figure in figures(name, source, sheets):
                labels.setdefault(figure.key, figure.label)
        except Exception:
            pass
    a, b = flat(old), flat(new)
    keys = [k for k in b if k not in a or not _same(a[k], b[k])] + [k for k in a if k not in b]
    return [Change(k, labels.get(k, _pair(k, k)), a.get(k), b.get(k)) for k in keys]


def diff(old: str, new: str, old_name: str = "before", new_name: str = "after") -> list[str]:
    return list(difflib.unified_diff(old.splitlines(), new.splitlines(), old_name, new_name, lineterm=""))


# ---------------------------------------------------------------------------------------------- saving

def today_in(store) -> date:
    return rule_files.today(store)


def _day(value, store) -> date:
    if value is None or value == "":
        return today_in(store)
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise KefuError("or.bad_date", value=value) from None


def _disk(name: str) -> str:
    return rule_files.file(name).read_text(encoding="utf-8")


def current_text(store, actor, name: str) -> str:
    """The file as it is on disk now: what the form starts from."""
    require_read(actor)
    return _disk(check_name(name))


@dataclass
class Saved:
    name: str
    version: versions.Version
    effective_from: date
    changes: list
    retimed: int = 0                 # open tickets given new due times (SLA)


def _flat_paths(text: str) -> dict:
    """Every value of a rules text by its key, with its path in the parsed file: key -> (path, value)."""
    out = {}

    def walk(node, path):
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, (*path, key))
        elif isinstance(node, list) and node and all(isinstance(v, dict) for v in node):
            for number, value in enumerate(node):
                walk(value, (*path, number))
        else:
            out[key_of(path)] = (path, node)
    walk(tomllib.loads(text), ())
    return out


def carried(body: str, base: str, new: str) -> str:
    """`body` (a version waiting for a later day) with the changes from `base` to `new` made in it too,
    where it holds what `base` held (a figure the later version set itself keeps its own value).
    KefuError naming the key when a change cannot be made in it (a key added or taken away)."""
    if body == base:
        return new
    if new == base:
        return body
    before, after, later = _flat_paths(base), _flat_paths(new), _flat_paths(body)
    doc = tomlkit.parse(body)
    for key in list(after) + [k for k in before if k not in after]:
        if key in before and key in after and _same(before[key][1], after[key][1]):
            continue
        if key not in before or key not in after or key not in later:
            raise KefuError("or.not_carried", key=key)
        if not _same(later[key][1], before[key][1]):
            continue
        *parents, last = later[key][0]
        parent = _node(doc, tuple(parents))
        trivia = getattr(parent[last], "trivia", None)
        comment = (trivia.comment, trivia.comment_ws) if trivia is not None else None
        parent[last] = after[key][1]
        if comment and hasattr(parent[last], "trivia"):
            parent[last].trivia.comment, parent[last].trivia.comment_ws = comment
    return tomlkit.dumps(doc)


class ChangedOnDisk(KefuError):
    """The file changed since the user's form was made from it (another save, a version whose day came,
    a hand edit): nothing saved. opened and now: the two texts; changes: the figures that differ between
    them; diff: the file's unified diff from the one to the other."""
    code = "or.changed_on_disk"

    def __init__(self, name: str, opened: str, now: str, sheets=None):
        super().__init__("or.changed_on_disk")
        self.name, self.opened, self.now = name, opened, now
        self.changes = changes(name, opened, now, sheets)
        self.diff = diff(opened, now, f"rules/{name}.toml (opened)", f"rules/{name}.toml (now)")


class PendingConflict(KefuError):
    """The save cannot be made in a version waiting for a later day: names that version and the reason."""
    code = "or.pending_conflict"

    def __init__(self, version: int, day: str, reason: KefuError):
        super().__init__("or.pending_conflict", version=version, day=day)
        self.version, self.day, self.reason = version, day, reason

    def message(self, lang: str) -> str:
        return t(self.code, lang, version=self.version, day=self.day, reason=self.reason.message(lang))


def save_text(store, actor, name: str, text: str, *, effective_from=None, note: str = "",
              expected: str | None = None) -> Saved:
    """Keep `text` as rules/<name>.toml from `effective_from` (default today): checked by the app's loader
    (RulesRefused names the key; nothing written) and kept as a version (audited with the figures before
    and after), in one transaction. The file on disk holds the text in force today: it is written now when
    the day is today or earlier, else on its day (kefu/rules.py bring_in_force). A version saved earlier
    for a later day, still waiting, is saved again after this one with this save's changes made in it
    too (PendingConflict when they cannot be). expected: the text the user's form was made from; if the
    file changed since, the save is refused (KefuError or.changed_on_disk) rather than overwrite it."""
    require_save(actor)
    check_name(name)
    day = _day(effective_from, store)
    check(store, name, text)
    rule_files.bring_in_force(store)                       # a version whose day has come is the file's first
    path = rule_files.file(name)
    replaced, disk = False, None
    with _WRITE_LOCK:
        try:
            with store.transaction() as conn:              # BEGIN IMMEDIATE: one writer at a time, all processes
                disk = path.read_text(encoding="utf-8")
                if expected is not None and versions.digest(disk) != versions.digest(expected):
                    raise ChangedOnDisk(name, expected, disk, store.sheets)
                today = rule_files.today(store)
                waiting = rule_files.later(conn, name, today.isoformat())
                last = rule_files.written(conn, name)
                kept = versions.get(store, "rules", name, last) if last is not None else None
                if kept is not None and kept.sha256 != versions.digest(disk):
                    versions.record(store, conn, auth.SYSTEM, "rules", name, disk,
                                    effective_from=kept.effective_from, note="edited by hand")
                    for again in waiting:                  # still in force on their days, after the hand edit
                        if again[3] <= day.isoformat():
                            versions.record(store, conn, auth.SYSTEM, "rules", name, again[1],
                                            effective_from=again[3], note=f"version {again[0]} again, after the hand edit")
                base = rule_files.text_on(store, name, max(day, today))     # what the save changes
                if text == base and text == rule_files.text_on(store, name, day):
                    raise KefuError("or.no_change")
                changed = changes(name, base, text, store.sheets)
                saved = versions.record(
                    store, conn, actor, "rules", name, text, effective_from=day.isoformat(), note=note, previous=disk,
                    audit_before={"figures": {c.key: c.before for c in changed}},
                    audit_after={"figures": {c.key: c.after for c in changed}})
                for again in [v for v in waiting if v[3] > day.isoformat()]:
                    try:
                        body = carried(again[1], base, text)
                        check(store, name, body)
                    except KefuError as exc:
                        raise PendingConflict(again[0], again[3], exc) from None
                    versions.record(store, conn, actor, "rules", name, body, effective_from=again[3],
                                    note=f"version {again[0]} with the changes of version {saved.version}")
                retimed = _retime(store, actor, check(store, name, text), day) if name == "sla" else 0
                now = rule_files.in_force(conn, name, today)
                rule_files.mark_written(conn, name, now[0])
                if now[1] != disk:
                    rule_files.write_file(path, now[1])
                    replaced = True
        except BaseException:
            if replaced and disk is not None:
                rule_files.write_file(path, disk)           # the commit failed: the file goes back too
            raise
    from kefu import incentives
    incentives._RULES_CACHE.clear()
    return Saved(name, saved, day, changed, retimed)


def pending(store, actor, name: str) -> list[versions.Version]:
    """The versions waiting for a later day to take effect (kefu/rules.py), first day first."""
    require_read(actor)
    check_name(name)
    rows = rule_files.later(store.conn, name, rule_files.today(store).isoformat())
    return [versions.get(store, "rules", name, row[0]) for row in rows]


def save_figures(store, actor, name: str, values: dict, *, effective_from=None, expected: str | None = None,
                 note: str = "") -> Saved:
    """The screen's save: the form's figures (key -> value) written into the text in force on the day
    (form_text), then save_text. expected: the text the form was made from (the file when it was opened)."""
    require_save(actor)
    base = expected if expected is not None else _disk(check_name(name))
    return save_text(store, actor, name, form_text(store, name, base, values, effective_from), effective_from=effective_from,
                     note=note, expected=base)


def form_text(store, name: str, base: str, values: dict, effective_from=None) -> str:
    """The form's figures as a text from `effective_from`. The form shows `base` (today's file); when a
    version waits for a day on or before the chosen one, the figures the user changed are set in the text
    in force on that day, so the waiting version's own changes are kept."""
    on_day = rule_files.text_on(store, name, max(_day(effective_from, store), today_in(store)))
    if on_day == base:
        return text_with(name, base, values, store.sheets)
    shown = {figure.key: figure for figure in figures(name, base, store.sheets)}
    changed = {key: value for key, value in values.items()
               if key not in shown or not _same(value_for(shown[key], value, name, store.sheets), shown[key].value)}
    return text_with(name, on_day, changed, store.sheets)


def apply_file(store, actor, file: str | Path, *, effective_from=None, dry_run: bool = False) -> "Saved | Preview":
    """The command line's `rules apply FILE.toml`: the file's name says which rules file it is (kpi.toml ...).
    dry_run: check it and say what would change (preview), writing nothing."""
    file = Path(file)
    name = check_name(file.stem)
    text = file.read_text(encoding="utf-8")
    if dry_run:
        return preview(store, actor, name, text, effective_from=effective_from)
    return save_text(store, actor, name, text, effective_from=effective_from, note=f"applied from {file.name}")


def restore(store, actor, name: str, version: int, *, effective_from=None) -> Saved:
    """Make a kept version the current text again, from `effective_from` (default today): checked again by
    the loader (the registers may have changed since), saved as a new version."""
    require_save(actor)
    found = versions.get(store, "rules", check_name(name), int(version))
    if found is None:
        raise KefuError("or.no_version", name=name, version=version)
    return save_text(store, actor, name, found.body, effective_from=effective_from,
                     note=f"restored version {found.version}")


def history(store, actor, name: str) -> list[versions.Version]:
    """The saved versions of rules/<name>.toml, newest first."""
    require_read(actor)
    return versions.history(store, "rules", check_name(name))


def compare(store, actor, name: str, version: int, other: int | None = None) -> list[str]:
    """The unified diff from version `other` (default: the one before) to `version`."""
    require_read(actor)
    found = versions.get(store, "rules", check_name(name), int(version))
    if found is None:
        raise KefuError("or.no_version", name=name, version=version)
    before = versions.get(store, "rules", name, int(other) if other is not None else found.version - 1)
    return diff(before.body if before else "", found.body, f"v{before.version}" if before else "-", f"v{found.version}")


# ---------------------------------------------------------------------------------------------- SLA: open tickets

@dataclass(frozen=True)
class Due:
    ticket_id: int
    ticket_no: str
    kind: str
    severity: str
    received: str
    response_before: str | None
    response_after: str | None
    resolution_before: str | None
    resolution_after: str | None

    @property
    def changed(self) -> bool:
        return (self.response_before, self.resolution_before) != (self.response_after, self.resolution_after)


def _open_dues(store, new_rules, day: date) -> tuple[list[Due], int]:
    """The open tickets received on or after `day` with their due times now and under `new_rules`, and how
    many open tickets were received before it (they keep theirs)."""
    from kefu import tickets, workflow
    flow = workflow.load_workflow()
    states = sorted(flow.open_states)
    marks = ", ".join("?" for _ in states)
    now = datetime.now(store.settings.tz).replace(microsecond=0)
    rows = store.conn.execute(
        f"SELECT id, ticket_no, kind, severity, state, created_at, response_due, resolution_due FROM tickets "
        f"WHERE state IN ({marks}) AND deleted_at IS NULL ORDER BY created_at, id", states).fetchall()
    found, kept = [], 0
    for ticket_id, number, kind, severity, state, created, response, resolution in rows:
        received = datetime.fromisoformat(created)
        if received.astimezone(store.settings.tz).date() < day:
            kept += 1
            continue
        target = new_rules.target(kind or "inquiry", severity or "normal")
        pauses = tickets._pauses(store, ticket_id, flow, now)
        if state in flow.paused_states and pauses and pauses[-1][1] == now:
            pauses = pauses[:-1]                     # waiting now: the due time stands as it was at the last resume
        new_response = new_rules.calendar.due(received, target.response).isoformat()
        new_resolution = new_rules.calendar.due(received, target.resolution, pauses)
        found.append(Due(ticket_id, number, kind, severity, created, response, new_response, resolution,
                         new_resolution.isoformat() if new_resolution else resolution))
    return found, kept


def _retime(store, actor, new_rules, day: date) -> int:
    """Give the open tickets received on or after `day` the due times of the new SLA rules (audited)."""
    from kefu import tickets
    count = 0
    for due in _open_dues(store, new_rules, day)[0]:
        if due.changed:
            store.update(tickets.SHEET, due.ticket_id, {"response_due": due.response_after,
                                                        "resolution_due": due.resolution_after},
                         auth.acting_for(actor), allow_readonly=True)
            count += 1
    return count


# ---------------------------------------------------------------------------------------------- previews

@dataclass(frozen=True)
class Place:
    name: str
    place_before: int | None
    score_before: float | None
    bonus_before: str | None
    place_after: int | None
    score_after: float | None
    bonus_after: str | None


@dataclass(frozen=True)
class RankingPreview:
    year: int
    quarter: int
    applies: bool                    # the new weights are in force for this quarter
    rows: tuple
    bonus: tuple = ()                # BonusChange: who gains or loses a bonus place
    places_before: dict = field(default_factory=dict)     # mark -> {"first", "last"} under the current rules
    places_after: dict = field(default_factory=dict)
    bonus_approved: bool = False     # the quarter's incentive run is approved: its bonuses stay as approved


@dataclass(frozen=True)
class BonusChange:
    """A person who gains, loses or changes a quarterly bonus place under the new KPI rules."""
    name: str
    before: str | None               # "top", "next" or None
    after: str | None
    fen_before: int                  # the bonus of that place (rules/incentives.toml in force for the quarter)
    fen_after: int

    @property
    def gains(self) -> bool:
        return self.fen_after > self.fen_before


@dataclass(frozen=True)
class RunPreview:
    period: str
    applies: bool
    total_before: int                # fen
    total_after: int
    people: tuple                    # (name, fen before, fen after)


@dataclass
class Preview:
    name: str
    effective_from: date
    changes: list
    diff: list
    ranking: RankingPreview | None = None
    runs: list = field(default_factory=list)
    dues: list = field(default_factory=list)
    dues_kept: int = 0


def _ranking_preview(store, new_rules, day: date, today: date) -> RankingPreview:
    """The quarter's ranking now and under the new rules, and who gains or loses a bonus place (its amount
    from rules/incentives.toml as the quarter's run would pay it)."""
    from kefu import incentives, kpi
    year, quarter = kpi.quarter_of(today)
    start, end = kpi.quarter_bounds(year, quarter)
    before = kpi.staff_ranking(store, auth.SYSTEM, year, quarter)
    after = {row.key: row for row in kpi.staff_ranking(store, auth.SYSTEM, year, quarter, rules=new_rules)}
    rows = []
    for row in before:
        new = after.get(row.key)
        rows.append(Place(row.name, row.place, row.score if row.ranked else None, row.bonus,
                          new.place if new else None, new.score if new and new.ranked else None,
                          new.bonus if new else None))
    ranked = [r for r in rows if r.place_after is not None]
    rows = sorted(ranked, key=lambda r: r.place_after) + [r for r in rows if r.place_after is None]
    period = incentives.parse_period(f"{year}-Q{quarter}")
    money = incentives.period_rules(store, period)
    bonus = tuple(BonusChange(r.name, r.bonus_before, r.bonus_after, incentives.ranking_bonus_fen(r.bonus_before, money),
                              incentives.ranking_bonus_fen(r.bonus_after, money))
                  for r in rows if r.bonus_before != r.bonus_after)
    old_rules = kpi.rules_on(store, kpi.ranking_day(start, end, today))
    places = lambda rules: {mark: kpi.bonus_places(mark, rules) for mark in ("top", "next")}
    return RankingPreview(year, quarter, day <= kpi.ranking_day(start, end, today), tuple(rows), bonus,
                          places(old_rules), places(new_rules), incentives.approved_run(store, period.label) is not None)


def _runs_preview(store, new_rules, day: date, today: date) -> list[RunPreview]:
    """The latest month and quarter not yet approved: their totals now and under the new figures."""
    from kefu import incentives, kpi
    chosen = {}
    for label in incentives.recent_periods(today):
        period = incentives.parse_period(label)
        if period.kind not in chosen and incentives.approved_run(store, period.label) is None:
            chosen[period.kind] = period
    out = []
    for period in chosen.values():
        before = incentives.compute(store, auth.SYSTEM, period)
        after = incentives.compute(store, auth.SYSTEM, period, rules=new_rules)
        people = {}
        for staff, person, fen in before.per_person():
            people[staff] = [person, fen, 0]
        for staff, person, fen in after.per_person():
            people.setdefault(staff, [person, 0, 0])[2] = fen
        applies = day <= kpi.ranking_day(period.first, period.end, today)
        out.append(RunPreview(period.label, applies, before.total_fen, after.total_fen,
                              tuple(tuple(v) for v in people.values())))
    return out


def preview(store, actor, name: str, text: str, *, effective_from=None, today: date | None = None) -> Preview:
    """What saving `text` would change, computed by the engine and nothing written: the figures that
    differ, the diff of the file, and per file the ranking, the incentive runs or the tickets' due times.
    RulesRefused (naming the key) when the loader would refuse the text."""
    require_save(actor)
    check_name(name)
    day = _day(effective_from, store)
    today = today or today_in(store)
    new_rules = check(store, name, text)
    old = rule_files.text_on(store, name, max(day, today_in(store)))   # what it would change, from its day
    shown = Preview(name, day, changes(name, old, text, store.sheets), diff(old, text, f"rules/{name}.toml",
                                                                              f"rules/{name}.toml (new)"))
    if name == "kpi":
        shown.ranking = _ranking_preview(store, new_rules, day, today)
    elif name == "incentives":
        shown.runs = _runs_preview(store, new_rules, day, today)
    elif name == "sla":
        shown.dues, shown.dues_kept = _open_dues(store, new_rules, day)
    return shown


def preview_figures(store, actor, name: str, values: dict, *, effective_from=None, expected: str | None = None,
                    today: date | None = None) -> Preview:
    """The screen's preview: the form's figures written into the text in force on the day (form_text),
    then preview()."""
    require_save(actor)
    base = expected if expected is not None else _disk(check_name(name))
    return preview(store, actor, name, form_text(store, name, base, values, effective_from),
                   effective_from=effective_from, today=today)
