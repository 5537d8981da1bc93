"""The generic register screen: any sheet without a screen of its own (the duty roster, ...)."""
from kefu.ui.screen import sheet_screen


def screen_for(sheet_name: str):
    def render() -> None:
        sheet_screen(sheet_name)
    render.__name__ = f"render_{sheet_name}"
    return render
