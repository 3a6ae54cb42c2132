"""The browser runtime, the adapter contract, findings, credentials and the payer registry."""
