"""Rerunnable benchmark scripts; each writes JSON + markdown with commit, versions and settings."""
