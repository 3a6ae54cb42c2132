"""Northwind Mutual sandbox portal: a single-page application rendered in the browser from a JSON API."""
