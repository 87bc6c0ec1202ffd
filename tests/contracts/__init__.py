"""Tier 6: the requests each connector sends, validated against vendor-authored artifacts (test-only deps)."""
