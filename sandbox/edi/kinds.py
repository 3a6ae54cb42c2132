"""The three file kinds by name ("835", "277", "277ca"): which claims each can carry and how it is written."""

from __future__ import annotations

from collections.abc import Callable

from sandbox.edi.acknowledgment import acknowledgeable_claims, acknowledgment_277ca
from sandbox.edi.claim_status import claim_status_277, status_reportable_claims
from sandbox.edi.remittance import remittable_claims, remittance_835
from sandbox.edi.selection import select_claims
from sandbox.world import World

# kind -> (the claims it can carry, its writer)
FILE_KINDS: dict[str, tuple[Callable[[World], list[str]], Callable[..., str]]] = {
    "835": (remittable_claims, remittance_835),
    "277": (status_reportable_claims, claim_status_277),
    "277ca": (acknowledgeable_claims, acknowledgment_277ca),
}


def coverage(world: World) -> dict[str, list[str]]:
    """For the oracle: the claim numbers each file kind covers right now."""
    return {kind: carriable(world) for kind, (carriable, _write) in FILE_KINDS.items()}


def file_claims(world: World, kind: str, spec: str | None) -> list[str]:
    """The claims a file of this kind carries for `?claims=` (half, all or N1,N2), in world order."""
    carriable, _write = FILE_KINDS[kind]
    able = carriable(world)
    chosen = select_claims(spec, able)
    missing = [n for n in chosen if n not in set(able)]
    if missing:
        raise ValueError(f"{kind}: claim {missing[0]} cannot be carried by this file kind")
    if not chosen:
        raise ValueError(f"{kind}: no claims to carry")
    order = {c.claim_number: i for i, c in enumerate(world.claims)}
    return sorted(set(chosen), key=order.__getitem__)


def file_text(world: World, kind: str, spec: str | None, *, interchange_number: int = 1) -> str:
    """The file of this kind carrying the claims `spec` picks."""
    _carriable, write = FILE_KINDS[kind]
    return write(world, file_claims(world, kind, spec), interchange_number=interchange_number)
