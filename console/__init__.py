"""opsconsole: a keyboard-driven terminal console for the ops team of a wiki farm."""

__version__ = "0.1.0"
