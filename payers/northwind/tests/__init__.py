"""Tests of the Northwind Mutual adapter against its sandbox portal."""
