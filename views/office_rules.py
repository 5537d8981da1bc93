"""Office rules (办公规则): the department manager and the general manager change the figures of the rules
files the office tunes (SLA hours, KPI weights, incentive amounts, club tiers, surveys, who takes each ticket
step), see what a change does before saving, choose the day it takes effect, and restore earlier versions;
the administrator reads. Everything is decided in kefu.office_rules."""
from kefu import office_rules
from kefu.ui import context
from kefu.ui.office_rules import office_rules_screen


def render() -> None:
    actor = context.screen(office_rules.VIEW, "or.title", "or.intro")
    office_rules_screen(context.store(), actor, context.lang())
