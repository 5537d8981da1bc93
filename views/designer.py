"""Register designer (表单设计, administrator): registers designed on the screen, checked, versioned and applied live."""
from kefu.ui import context
from kefu.ui.designer import designer_screen


def render() -> None:
    actor = context.screen("designer", "dz.title", "dz.intro")
    designer_screen(context.store(), actor, context.lang())
