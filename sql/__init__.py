"""Catalog queries shipped with pgpath, one per file."""
