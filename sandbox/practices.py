"""Which client practice each claim, letter and authorization of a sandbox world belongs to."""

from __future__ import annotations

#: claim index pairs billed for one member on one day (see World._pair_claims_on_same_day): the
#: second follows the first, so the practice that billed both sees both
PAIRED_CLAIMS = {21: 20, 41: 40, 61: 60}


def assign_practices(world, practices: tuple[str, ...]) -> None:
    """Round robin on the claim and authorization index; letters follow their claim or authorization."""
    count = len(practices)
    for i, claim in enumerate(world.claims):
        claim.practice = practices[PAIRED_CLAIMS.get(i, i) % count]
    auths = {auth.auth_number: auth for auth in world.authorizations}
    for j, auth in enumerate(world.authorizations):
        auth.practice = practices[j % count]
    for claim in world.claims:  # an authorization a claim bills under is that practice's authorization
        if claim.auth_number in auths:
            auths[claim.auth_number].practice = claim.practice
    claims = {claim.claim_number: claim for claim in world.claims}
    for letter in world.letters:
        if letter.claim_number in claims:
            letter.practice = claims[letter.claim_number].practice
        elif letter.letter_type == "authorization_decision" and letter.reference_number in auths:
            letter.practice = auths[letter.reference_number].practice
        else:  # a bulletin: the first practice's mail
            letter.practice = practices[0]
