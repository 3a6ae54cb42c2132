"""Simulated payer portals with synthetic data and an oracle of what a correct bot must find."""
