"""The data the console holds: model, rows, store and poller, clock, config, host identity. No Textual."""
