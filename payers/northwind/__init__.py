"""Northwind Mutual: a single-page-app provider portal with an e-mailed one-time code."""
