"""The adapter kit's pure parts: findings read from portal text, declared pages, what counts as implemented."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from bots.adapter import PortalAdapter
from bots.errors import AccountLocked, LoginFailed
from bots.findings import AuthorizationFinding, ClaimStatusFinding, Provenance, ServiceLine
from bots.kit import Interruptions, LoginForm
from bots.parsing import parse_adjustments

PROVENANCE = Provenance(payer_id="acme", account="main", url="https://portal.example/claims/1")


def test_a_claim_finding_reads_the_portal_text_itself():
    """Money, dates, placeholders and payment methods as portals print them become typed values."""
    finding = ClaimStatusFinding(
        claim_number="C1", raw_status="Paid", billed="$1,234.50", paid="($12.00)", allowed="-",
        adjudication_date="Nov 2, 2026", payment_date="11/05/2026", payment_method="Electronic Funds Transfer",
        check_number="N/A", pending_reason="—", crossover_payer="Medigap Plan F", provenance=PROVENANCE)
    assert (finding.billed, finding.paid, finding.allowed) == (Decimal("1234.50"), Decimal("-12.00"), None)
    assert (finding.adjudication_date, finding.payment_date) == (date(2026, 11, 2), date(2026, 11, 5))
    assert finding.payment_method == "EFT" and finding.check_number is None and finding.pending_reason is None
    assert ClaimStatusFinding(claim_number="C1", raw_status="Paid", payment_method="Check",
                              provenance=PROVENANCE).payment_method == "CHK"


def test_claim_codes_and_adjustments_default_to_the_service_lines():
    """A portal prints adjustments per line: the claim's CARCs, RARCs and adjustments follow, in order, once."""
    lines = [ServiceLine(line_number="1", procedure_code="99213", units="", rarc_codes="N130, M15",
                         adjustments=parse_adjustments("CO-45 $52.82; PR-3 $20.00")),
             ServiceLine(line_number="2", procedure_code="36415", units="2", rarc_codes="N130",
                         adjustments=parse_adjustments("CO-45 $1,037.45"))]
    finding = ClaimStatusFinding(claim_number="C1", raw_status="Paid", service_lines=lines, provenance=PROVENANCE)
    assert lines[0].units == 1 and lines[1].units == 2 and lines[0].carc_codes == ["45", "3"]
    assert finding.carc_codes == ["45", "3"] and finding.rarc_codes == ["N130", "M15"]
    assert [(a.group_code, a.carc, a.amount) for a in finding.adjustments] == [
        ("CO", "45", Decimal("52.82")), ("PR", "3", Decimal("20.00")), ("CO", "45", Decimal("1037.45"))]
    explicit = ClaimStatusFinding(claim_number="C1", raw_status="Paid", service_lines=lines, carc_codes=["97"],
                                  provenance=PROVENANCE)
    assert explicit.carc_codes == ["97"]  # what the portal prints for the claim wins over the lines


def test_adjustments_that_do_not_all_read_are_refused():
    """'CO-45 $52.82; PR-3 twenty dollars' is a changed grid, not one adjustment."""
    assert parse_adjustments("CO-45 $52.82; PR-3 twenty dollars") is None
    assert parse_adjustments("") == [] and parse_adjustments(None) == []


def test_unreadable_text_is_a_validation_error_not_a_wrong_value():
    """Text that is no amount or date fails loudly (the kit turns it into PortalChanged)."""
    with pytest.raises(ValidationError):
        ClaimStatusFinding(claim_number="C1", raw_status="Paid", adjudication_date="sometime", provenance=PROVENANCE)
    auth = AuthorizationFinding(auth_number="A1", member_id="M1", service="PT", procedure_codes="97110, 97140",
                                raw_status="Approved", approved_units="12", start_date="2026-11-02",
                                provenance=PROVENANCE)
    assert auth.procedure_codes == ["97110", "97140"] and auth.approved_units == 12
    assert auth.start_date == date(2026, 11, 2)


def test_interruptions_leave_the_sign_in_form_out_while_signing_in():
    """The sign-in form means 'signed out' on every page except the sign-in steps themselves."""
    pages = Interruptions(maintenance="#m", signed_out="form#login")
    assert pages.selectors() == {"_maintenance": "#m", "_signed_out": "form#login"}
    assert pages.selectors(signed_out_ok=True) == {"_maintenance": "#m"}


def test_a_declared_sign_in_form_is_the_login_capability():
    """An adapter that declares its LoginForm implements login; an undeclared, unwritten one does not."""
    form = LoginForm(path="login", form="form", fields={"#u": "username"}, submit="#go", signed_in="#out",
                     refusals={".e:has-text('locked')": AccountLocked, ".e": LoginFailed})

    class Declared(PortalAdapter):
        login_form = form

    class Bare(PortalAdapter):
        pass

    assert Declared.implemented_capabilities() == {"login"}
    assert Bare.implemented_capabilities() == set()
