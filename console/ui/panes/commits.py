"""The Commits pane (rows from console.derive.commits_pane.commits_view)."""

from __future__ import annotations

from console.ui.panes.base import Pane, derive_view


class CommitsPane(Pane):
    number = 4
    title = "Commits"
    noun = "commits"
    kinds = frozenset({"commits", "icinga"})  # icinga: commits just before the top alert are marked
    derive = staticmethod(derive_view("commits_pane", "commits_view"))
    opens_hosts = False  # a commit names no host: enter does nothing here
