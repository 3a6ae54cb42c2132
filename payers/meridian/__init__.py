"""Meridian Health Plan: adapter, page objects, manifest and status map for its provider portal."""
