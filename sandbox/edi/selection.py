"""Which claims a file carries: every other one ("half"), all, or a given list (the harness's ?claims=)."""

from __future__ import annotations


def half(claim_numbers: list[str]) -> list[str]:
    """Every other claim number (the first, third, ...): the tests' "an 835 that pays half the claims"."""
    return list(claim_numbers[::2])


def select_claims(spec: str | None, carriable: list[str]) -> list[str]:
    """`half`, `all` (the default) or comma-separated claim numbers, out of the claims a file kind can carry."""
    text = (spec or "all").strip()
    if text == "all":
        return list(carriable)
    if text == "half":
        return half(carriable)
    return [part.strip() for part in text.split(",") if part.strip()]
