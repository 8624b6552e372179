"""The console's screens: the panes (the first), a host's detail, logs, an action, the task list, the
leftovers board, the incident timeline, the help."""
