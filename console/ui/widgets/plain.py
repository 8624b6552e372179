"""Plain: a Static for text that may hold data from outside. Its strings are never parsed as markup,
and strings and Texts pass the display-safe function (console.core.display) with line breaks kept;
other renderables (tables, groups) are shown as given: build them from safe Texts."""

from __future__ import annotations

from rich.text import Text
from textual.visual import VisualType
from textual.widgets import Static

from console.core.display import safe_text


def shown(content: VisualType) -> VisualType:
    """What a Plain shows for `content`."""
    if isinstance(content, (str, Text)):
        return safe_text(content, multiline=True)
    return content


class Plain(Static):
    def __init__(self, content: VisualType = "", *, expand: bool = False, shrink: bool = False, name: str | None = None,
                 id: str | None = None, classes: str | None = None, disabled: bool = False) -> None:
        super().__init__(shown(content), expand=expand, shrink=shrink, markup=False, name=name, id=id, classes=classes,
                         disabled=disabled)

    def update(self, content: VisualType = "", *, layout: bool = True) -> None:
        super().update(shown(content), layout=layout)
