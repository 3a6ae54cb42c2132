"""The HL tree of a 277: claims grouped by provider, then by patient, in world order."""

from __future__ import annotations

from sandbox.world import Claim, World


def by_provider_and_member(world: World, numbers: list[str]) -> list[tuple[list[Claim], list[list[Claim]]]]:
    """[(the provider's claims, [each patient's claims under that provider])], first appearance first."""
    providers: dict[str, dict[str, list[Claim]]] = {}
    for number in numbers:
        claim = world.claim(number)
        members = providers.setdefault(claim.provider_npi, {})
        members.setdefault(claim.member.member_id, []).append(claim)
    return [([c for cs in members.values() for c in cs], list(members.values())) for members in providers.values()]
