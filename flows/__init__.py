"""Prefect flows and the `payerbot` CLI. Importing this package sets Prefect up to run with no server."""

from flows.env import configure_prefect

configure_prefect()
