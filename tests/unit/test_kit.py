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


# -- the one-round-trip page questions (bots.kit.dom) against Playwright's own answers -----------------------
KIT_PAGE = """<html><body>
<div id="shown">Paid <b>in full</b></div><div id="hidden" style="display:none">Denied</div>
<div id="ghost" style="visibility:hidden">x</div><div id="empty"></div>
<div id="contents" style="display:contents"><span>inside</span></div>
<p class="line" style="display:none">first, hidden</p><p class="line">second, shown</p>
<div id="banner">Your account is locked</div>
<div id="host"></div>
<iframe srcdoc="<div id='in-frame'>framed</div>"></iframe>
<script>document.getElementById('host').attachShadow({mode: 'open'}).innerHTML = '<i id="shadowed">deep</i>';</script>
</body></html>"""
KIT_SELECTORS = ["#shown", "#hidden", "#ghost", "#empty", "#contents", "#nothing", ".line", ".line:visible",
                 "#shadowed", "#banner:has-text('locked')", "#banner >> text=locked"]


def test_one_question_per_page_agrees_with_playwright_selector_by_selector(page) -> None:
    """Visibility and texts read in one round trip match Playwright's own `first.is_visible()`/`inner_text()`."""
    from bots.kit import dom

    page.set_content(KIT_PAGE)
    shown = dom.visible(page, KIT_SELECTORS)
    texts = dom.texts(page, KIT_SELECTORS)
    for selector, seen, text in zip(KIT_SELECTORS, shown, texts, strict=True):
        if ":has-text" in selector or ">>" in selector:  # Playwright-only: the caller must ask Playwright
            assert seen is dom.UNSUPPORTED and text is dom.UNSUPPORTED, selector
            continue
        locator = page.locator(selector)
        assert seen == locator.first.is_visible(), selector
        assert text == (locator.first.inner_text() if locator.count() else None), selector
    assert dict(zip(KIT_SELECTORS, shown, strict=True))[".line:visible"] is True
    assert dict(zip(KIT_SELECTORS, texts, strict=True))[".line:visible"] == "second, shown"
    assert dom.visible(page.frame_locator("iframe"), ["#in-frame", "#shown"]) == [True, False]
    assert dom.texts(page.locator("#contents"), ["span", "#shown"]) == ["inside", None]


def _kit_adapter(page, tmp_path, interruptions: Interruptions):
    from bots.adapter import PortalSession
    from bots.credentials import Credential
    from bots.evidence import EvidenceStore

    Kit = type("Kit", (PortalAdapter,), {})  # noqa: N806 - a class

    Kit.interruptions = interruptions
    session = PortalSession(page=page, context=page.context, base_url="http://127.0.0.1/",
                            credential=Credential(payer_id="acme", account="main", username="u", password="p"),
                            evidence=EvidenceStore(tmp_path))
    return Kit(session)


def test_expect_still_types_interruptions_refusals_and_unknown_pages(page, tmp_path) -> None:
    """An interruption wins over an answer; a Playwright-only refusal still refuses; nothing known is PortalChanged."""
    from bots.errors import MaintenanceWindow, PortalChanged

    adapter = _kit_adapter(page, tmp_path, Interruptions(maintenance="#maintenance", error_page="#error"))
    adapter.wait_ms = 300
    page.set_content("<div id='results'>3 claims</div><div id='none' style='display:none'>none</div>")
    assert adapter.expect({"results": "#results", "none": "#none"}) == "results"
    page.set_content("<div id='results'>3 claims</div><div id='maintenance'>down tonight</div>")
    with pytest.raises(MaintenanceWindow):
        adapter.expect({"results": "#results"})
    page.set_content("<div id='results'>3 claims</div><div id='error'>Something went wrong</div>")
    with pytest.raises(PortalChanged, match="portal error page"):
        adapter.expect({"results": "#results"})
    page.set_content("<div class='alert'>Your account is locked</div>")
    with pytest.raises(AccountLocked):
        adapter.expect({"in": "#logout"}, errors={".alert:has-text('locked')": AccountLocked})
    page.set_content("<div id='redesigned'>hello</div>")
    with pytest.raises(PortalChanged, match="none of the expected outcomes"):
        adapter.expect({"results": "#results"})


def test_texts_read_every_field_at_once_and_playwright_only_ones_apart(page, tmp_path) -> None:
    """`texts` gives the same fields whether a selector is plain CSS or Playwright-only; absent is None."""
    adapter = _kit_adapter(page, tmp_path, Interruptions())
    page.set_content("<div id='status'> Paid </div><div id='pay'>Payment: EFT 1T123 issued 11/02/2026</div>"
                     "<table id='t'><thead><tr><th>A</th></tr></thead><tbody><tr><td>1</td></tr></tbody></table>")
    assert adapter.texts({"status": "#status", "method": ("#pay", r"Payment:\s*(EFT|Check)"),
                          "eft": ("#pay:has-text('EFT')", r"EFT\s+(\S+)"), "reason": "#pend-reason"}) == {
        "status": "Paid", "method": "EFT", "eft": "1T123", "reason": None}
    assert adapter.table(page.locator("#t")) == [{"A": "1", "_href": ""}]


def _json_server():
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    answers = {"/ok": (200, "application/json", json.dumps({"status": "Paid", "member": "M123"})),
               "/expired": (401, "application/json", json.dumps({"error": "Please sign in."})),
               "/maintenance": (503, "application/json", json.dumps({"error": "down", "maintenance": True})),
               "/busy": (503, "text/html", "<h1>503 Server Error</h1>"),
               "/gone": (404, "application/json", json.dumps({"error": "We couldn't find that claim."})),
               "/html": (200, "text/html", "<html>a sign-in page</html>")}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the standard library's name
            status, kind, body = answers[self.path.split("?")[0]]
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *_args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_api_answers_are_data_or_their_typed_error(page, tmp_path) -> None:
    """200 JSON is the body; 401, maintenance, other 5xx, other refusals and non-JSON are typed; no values leak."""
    from bots.errors import MaintenanceWindow, PortalChanged, PortalUnavailable, SessionExpired

    server = _json_server()
    try:
        adapter = _kit_adapter(page, tmp_path, Interruptions())  # every adapter has the kit's Api
        adapter.session.base_url = f"http://127.0.0.1:{server.server_port}/"
        assert adapter.api_json("ok", {"member_id": "M123"}) == {"status": "Paid", "member": "M123"}
        for path, error in [("expired", SessionExpired), ("maintenance", MaintenanceWindow),
                            ("busy", PortalUnavailable), ("gone", PortalChanged), ("html", PortalChanged)]:
            with pytest.raises(error) as caught:
                adapter.api_json(path, {"member_id": "M123"})
            assert type(caught.value) is error, path
            assert "M123" not in str(caught.value) and "couldn't find" not in str(caught.value), path
        with pytest.raises(PortalChanged, match="lost total") as caught:
            adapter.api_keys(adapter.api_json("ok"), "status", "total", what="claim search")
        assert "Paid" not in str(caught.value)
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(PortalUnavailable):  # nothing listens there any more
        adapter.api_json("ok")
