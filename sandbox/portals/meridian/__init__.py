"""Meridian Health Plan's sandbox portal: a classic server-rendered 2010s provider portal."""
