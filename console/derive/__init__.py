"""Pure derivations from the store: what each pane, the status bar, the detail, the incident and
the leftovers board show. No Textual."""
