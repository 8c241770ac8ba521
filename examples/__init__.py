"""Example policies shipped with pgpath (used by `pgpath demo`)."""
