"""Personal data protection (个人信息保护, administrator): the retention of visitors' ID numbers and phones,
and one person's data found, exported or erased on their request."""
from kefu.ui import context
from kefu.ui.privacy import privacy_screen


def render() -> None:
    actor = context.screen("privacy", "pv.title", "pv.intro")
    privacy_screen(context.store(), actor, context.lang())
