"""The `opsconsole` command line: the click group, its options and one module per command group."""
