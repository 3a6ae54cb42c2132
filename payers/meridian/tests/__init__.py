"""Tests for the Meridian adapter against the sandbox portal."""
