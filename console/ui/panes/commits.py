"""The Commits pane (rows from console.views.commits_view)."""

from __future__ import annotations

from console.ui.panes.base import Pane
from console.views import commits_view


class CommitsPane(Pane):
    number = 4
    title = "Commits"
    noun = "commits"
    kinds = frozenset({"commits"})
    derive = staticmethod(commits_view)
