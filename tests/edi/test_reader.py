"""The X12 reader: guide-style example files import into the expected findings; broken files name the problem."""

from __future__ import annotations

import functools
import logging
import pickle
import random
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from bots.edi import EdiError, EdiFile, read_edi, read_edi_text
from bots.findings import Adjustment, ClaimStatusFinding

FILES = Path(__file__).parent / "files"
D = Decimal

# Expected claims per example file: (file, segment number, claim fields to compare with the finding).
CLAIMS = [
    # X221A1-style check payment: claim 1 with line-level CAS, AMT*B6 and LQ*HE
    ("x221a1_example.835", 14, dict(
        claim_number="PCN1001", payer_claim_number="ICN2026000001", reference_number="ICN2026000001",
        status_category="F1", raw_status="835 CLP02 1: processed as primary",
        billed=D("200.00"), paid=D("150.00"), patient_responsibility=D("20.00"), allowed=D("170.00"),
        payment_method="CHK", check_number="CHK0012345", payment_date=date(2026, 3, 5),
        adjudication_date=date(2026, 3, 2), carc_codes=["45", "3"], rarc_codes=["N130"],
        adjustments=[Adjustment(group_code="CO", carc="45", amount=D("20.00")),
                     Adjustment(group_code="PR", carc="3", amount=D("20.00")),
                     Adjustment(group_code="CO", carc="45", amount=D("10.00"))],
        crossover_payer=None, pending_reason=None)),
    # denied claim: claim-level CAS and MOA remarks
    ("x221a1_example.835", 26, dict(
        claim_number="PCN1002", status_category="F2", raw_status="835 CLP02 4: denied", paid=D("0.00"),
        billed=D("300.00"), allowed=None, carc_codes=["50"], rarc_codes=["MA130", "N657"],
        adjustments=[Adjustment(group_code="CO", carc="50", amount=D("300.00"))], service_lines=[])),
    # processed, forwarded, nothing paid: F4; two triples in one CAS; crossover carrier; AMT*AU allowed
    ("x221a1_example.835", 30, dict(
        claim_number="PCN1003", status_category="F4", paid=D("0.00"), patient_responsibility=D("100.00"),
        raw_status="835 CLP02 19: processed as primary, forwarded to additional payer(s)",
        allowed=D("100.00"), carc_codes=["1", "2"], crossover_payer="SYNTHETIC MEDIGAP PLAN",
        adjustments=[Adjustment(group_code="PR", carc="1", amount=D("80.00")),
                     Adjustment(group_code="PR", carc="2", amount=D("20.00"))])),
    # two interchanges, the first with two transactions (EFT and a no-payment reversal)
    ("several_interchanges.835", 13, dict(
        claim_number="PCN4001", status_category="F1", paid=D("95.00"), payment_method="EFT",
        check_number="EFT0000401", payment_date=date(2026, 3, 18), adjudication_date=date(2026, 3, 16))),
    ("several_interchanges.835", 26, dict(
        claim_number="PCN4002", status_category="F3", billed=D("-80.00"), paid=D("-60.00"),
        payment_method=None, check_number=None, adjudication_date=date(2026, 3, 16))),  # BPR04 NON: TRN02 is no check
    ("several_interchanges.835", 43, dict(
        claim_number="PCN4003", status_category="F1", raw_status="835 CLP02 2: processed as secondary",
        payment_method="CHK", check_number="CHK0000402", payment_date=date(2026, 3, 20),
        adjudication_date=date(2026, 3, 20), carc_codes=["2"])),
    # | elements, ^ components, newline-terminated segments
    ("pipe_separators.835", 13, dict(
        claim_number="PCN5001", status_category="F1", billed=D("75.00"), paid=D("45.00"), allowed=D("55.00"),
        check_number="CHK0000501", adjudication_date=date(2026, 3, 19), carc_codes=["45", "2"],
        rarc_codes=["M15"])),
    # X212 claim status: finalized/paid, with REF*EJ as the claim number and a 2220D line
    ("x212_example.277", 13, dict(
        claim_number="PCN1001", payer_claim_number="ICN2026000001", reference_number="ICN2026000001",
        status_category="F1", raw_status="277 STC F1:65", billed=D("200.00"), paid=D("150.00"),
        adjudication_date=date(2026, 3, 4), payment_date=date(2026, 3, 5), check_number="CHK0012345",
        pending_reason=None)),
    # pended, with an STC10 status; a second, older STC is not the current status
    ("x212_example.277", 21, dict(
        claim_number="PCN1002", status_category="P2", raw_status="277 STC P2:21; R4:252", billed=D("300.00"),
        paid=None, pending_reason="status code 21; status code 252", payer_claim_number="ICN2026000002")),
    # a dependent's claim (2200E), denied
    ("x212_example.277", 28, dict(
        claim_number="PCN1003", status_category="F2", raw_status="277 STC F2:88", paid=D("0.00"),
        adjudication_date=date(2026, 3, 6))),
    # X214 277CA: accepted, then rejected
    ("x214_example.277ca", 28, dict(
        claim_number="PCN2001", status_category="A2", raw_status="277CA STC A2:20", billed=D("200.00"),
        payer_claim_number="CLM2026A0001", adjudication_date=None, pending_reason=None)),
    ("x214_example.277ca", 34, dict(
        claim_number="PCN2002", status_category="A7", raw_status="277CA STC A7:21", billed=D("300.00"),
        payer_claim_number=None)),
]

# Expected claim envelope data per file: (transaction, implementation, claim numbers, ISA13s, sender, payer).
FILES_EXPECTED = {
    "x221a1_example.835": ("835", "005010X221A1", ["PCN1001", "PCN1002", "PCN1003"], ["000000101"],
                           "SYNPAYER", ("SYNTHETIC HEALTH PLAN", "SYN12")),
    "several_interchanges.835": ("835", "005010X221A1", ["PCN4001", "PCN4002", "PCN4003"],
                                 ["000000401", "000000402"], "SYNPAYER", ("SYNTHETIC HEALTH PLAN", "SYN12")),
    "pipe_separators.835": ("835", "005010X221A1", ["PCN5001"], ["000000501"], "SYNPAYER",
                            ("SYNTHETIC HEALTH PLAN", "SYN12")),
    "x212_example.277": ("277", "005010X212", ["PCN1001", "PCN1002", "PCN1003"], ["000000201"], "SYNPAYER",
                         ("SYNTHETIC HEALTH PLAN", "SYN12")),
    "x214_example.277ca": ("277CA", "005010X214", ["PCN2001", "PCN2002"], ["000000301"], "SYNCLEAR",
                           ("SYNTHETIC HEALTH PLAN", "SYN12")),
}

# Broken files and the exact message each must give.
MALFORMED = [
    ("truncated_no_iea.835", "truncated_no_iea.835: segment 37 (IEA): end of file where the IEA trailer is "
                             "expected (file truncated?)"),
    ("truncated_mid_segment.835", "truncated_mid_segment.835: segment 26 (CLP): no segment terminator: the file "
                                  "is cut off mid-segment"),
    ("isa_short.835", "isa_short.835: segment 1 (ISA), element ISA06: ISA element is not 15 characters wide "
                      "(ISA must be 106 characters)"),
    ("wrong_separator.835", "wrong_separator.835: segment 2 (GS): segment identifier is not valid (are its "
                            "separators the ISA's '*' and '~'?)"),
    ("missing_se.835", "missing_se.835: segment 35 (GE): missing SE: the transaction set is not closed before GE"),
    ("se_count.835", "se_count.835: segment 35 (SE), element SE01: SE01 segment count does not match "
                     "(SE01 '31', counted 33)"),
    ("se_control_number.835", "se_control_number.835: segment 35 (SE), element SE02: SE02 does not match ST02 "
                              "(SE02 '0002', ST02 '0001')"),
    ("ge_control_number.835", "ge_control_number.835: segment 36 (GE), element GE02: GE02 does not match GS06 "
                              "(GE02 '102', GS06 '101')"),
    ("ge_count.835", "ge_count.835: segment 36 (GE), element GE01: GE01 transaction set count does not match "
                     "(GE01 '2', counted 1)"),
    ("iea_control_number.835", "iea_control_number.835: segment 37 (IEA), element IEA02: IEA02 does not match "
                               "ISA13 (IEA02 '000000199', ISA13 '000000101')"),
    ("unknown_interchange_version.835", "unknown_interchange_version.835: segment 1 (ISA), element ISA12: unknown "
                                        "interchange version (this reader reads 00501)"),
    ("unknown_version.835", "unknown_version.835: segment 2 (GS), element GS08: unknown version '005010X222A1' "
                            "for HP (reads 005010X221A1)"),
    ("unknown_functional_group.835", "unknown_functional_group.835: segment 2 (GS), element GS01: unknown "
                                     "functional group 'HC' (reads HN 277/277CA, HP 835)"),
    ("unknown_transaction_set.835", "unknown_transaction_set.835: segment 3 (ST), element ST01: unknown "
                                    "transaction set '837' in a HP group (expected 835)"),
    ("clp04_not_number.835", "clp04_not_number.835: segment 14 (CLP), element CLP04: not a number"),
]
# Synthetic patient names and member ids in the files: never in a message.
PATIENT_DATA = ("SAMPLE", "PAT", "SYN0000")


@functools.cache
def _edi(file_name: str) -> EdiFile:
    """Each example file read once per test run (reading is pure; pyx12 loads its maps on every read)."""
    return read_edi(FILES / file_name)


def _claim(file_name: str, segment_number: int):
    edi = _edi(file_name)
    return next(claim for claim in edi.claims if claim.segment_number == segment_number)


@pytest.mark.parametrize(("file_name", "segment_number", "expected"), CLAIMS,
                         ids=[f"{f}@{n}" for f, n, _ in CLAIMS])
def test_example_claims_import_into_the_expected_findings(file_name, segment_number, expected):
    claim = _claim(file_name, segment_number)
    finding = claim.finding("synpayer")
    assert isinstance(finding, ClaimStatusFinding)
    assert {name: getattr(finding, name) for name in expected} == expected
    assert finding.provenance.url == (f"edi:{file_name}#ISA13={claim.interchange_control_number};"
                                      f"segment={segment_number}")
    assert finding.provenance.account == f"edi:{claim.sender_id}"
    assert finding.provenance.payer_id == "synpayer"
    assert finding.provenance.raw_text == claim.raw_text


@pytest.mark.parametrize("file_name", sorted(FILES_EXPECTED))
def test_files_carry_their_envelope(file_name):
    transaction, implementation, claim_numbers, interchanges, sender, payer = FILES_EXPECTED[file_name]
    edi = _edi(file_name)
    assert isinstance(edi, EdiFile)
    assert edi.file_name == file_name
    assert edi.interchanges == interchanges
    assert [claim.claim_number for claim in edi.claims] == claim_numbers
    assert {(claim.transaction, claim.implementation) for claim in edi.claims} == {(transaction, implementation)}
    assert edi.claims[0].sender_id == sender
    assert (edi.claims[0].payer_name, edi.claims[0].payer_identifier) == payer
    assert edi.warnings == []
    assert len(edi.sha256) == 64


def test_service_lines_of_an_835_claim():
    lines = _claim("x221a1_example.835", 14).finding("p").service_lines
    assert [(line.line_number, line.procedure_code, line.service_date, line.units, line.billed, line.allowed,
             line.paid, line.carc_codes, line.rarc_codes) for line in lines] == [
        (1, "99213", date(2026, 2, 15), 1, D("120.00"), D("100.00"), D("100.00"), ["45"], []),
        (2, "85025", date(2026, 2, 15), 1, D("80.00"), D("70.00"), D("50.00"), ["3", "45"], ["N130"]),
    ]
    pipe = _claim("pipe_separators.835", 13).finding("p").service_lines
    assert [(line.procedure_code, line.units) for line in pipe] == [("99214", 2)]


def test_claims_of_several_interchanges_keep_their_own_interchange_and_time():
    edi = _edi("several_interchanges.835")
    assert [(c.interchange_control_number, c.sender_id, c.observed_at) for c in edi.claims] == [
        ("000000401", "SYNPAYER", datetime(2026, 3, 16, 8, 0, tzinfo=UTC)),
        ("000000401", "SYNPAYER", datetime(2026, 3, 16, 8, 0, tzinfo=UTC)),
        ("000000402", "SYNPAYER2", datetime(2026, 3, 17, 14, 45, tzinfo=UTC)),
    ]
    assert (edi.claims[2].payer_name, edi.claims[2].payer_identifier) == ("SECOND SYNTHETIC PLAN", "SYN34")


def test_raw_text_is_the_status_segments_without_patient_data():
    assert _claim("x221a1_example.835", 14).raw_text == "CLP*PCN1001*1*200.00*150.00*20.00*12*ICN2026000001*11*1~"
    assert _claim("x212_example.277", 21).raw_text == ("STC*P2:21*20260309**300.00******R4:252~"
                                                       "STC*P1:20*20260301**300.00~")
    # the pipe file's segments are written back with the standard separators
    assert _claim("pipe_separators.835", 13).raw_text == "CLP*PCN5001*1*75.00*45.00*10.00*12*ICN2026005001*11*1~"
    for file_name in FILES_EXPECTED:
        for claim in _edi(file_name).claims:
            assert not any(data in claim.raw_text for data in PATIENT_DATA)


def test_read_edi_text_reads_the_same_as_read_edi():
    path = FILES / "x214_example.277ca"
    from_text = read_edi_text(path.read_text(), "x214_example.277ca")
    from_path = read_edi(path)
    assert from_text.claims == from_path.claims
    assert from_text.sha256 == from_path.sha256


def test_crlf_line_breaks_between_segments_are_read():
    text = (FILES / "x221a1_example.835").read_text().replace("~\n", "~\r\n")
    edi = read_edi_text(text, "crlf.835")
    assert [(c.claim_number, c.segment_number) for c in edi.claims] == [("PCN1001", 14), ("PCN1002", 26),
                                                                        ("PCN1003", 30)]


@pytest.mark.parametrize(("file_name", "message"), MALFORMED, ids=[f for f, _ in MALFORMED])
def test_malformed_files_name_file_segment_and_element(file_name, message):
    with pytest.raises(EdiError) as raised:
        read_edi(FILES / file_name)
    assert str(raised.value) == message
    assert raised.value.file_name == file_name
    assert not any(data in str(raised.value) for data in PATIENT_DATA)


def test_error_parts():
    error = EdiError("x.835", "not a number", segment_number=14, segment_id="CLP", element="CLP04")
    assert (error.file_name, error.segment_number, error.segment_id, error.element, error.reason) == (
        "x.835", 14, "CLP", "CLP04", "not a number")
    assert str(error) == "x.835: segment 14 (CLP), element CLP04: not a number"
    assert str(EdiError("x.835", "empty file")) == "x.835: empty file"
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.element, copy.segment_number) == (str(error), "CLP04", 14)


def test_a_validation_remark_is_a_warning_without_the_value():
    edi = read_edi(FILES / "invalid_code_warning.835")
    assert edi.warnings == ["invalid_code_warning.835: segment 26 (CLP), element CLP06: invalid code value"]
    assert [claim.claim_number for claim in edi.claims] == ["PCN1001", "PCN1002", "PCN1003"]


@pytest.mark.parametrize("text", ["", "hello", "ISA*00*"])
def test_not_an_interchange(text):
    with pytest.raises(EdiError) as raised:
        read_edi_text(text, "x.835")
    assert raised.value.segment_number == 1


def test_mia_remarks_and_an_unknown_claim_status_code():
    text = (FILES / "x221a1_example.835").read_text().replace("MOA***MA130*N657~", "MIA*0****MA01~", 1).replace(
        "CLP*PCN1002*4*", "CLP*PCN1002*5*", 1)
    finding = next(c for c in read_edi_text(text, "x.835").claims if c.claim_number == "PCN1002").finding("p")
    assert finding.rarc_codes == ["MA01"]
    assert (finding.status_category, finding.raw_status) == (None, "835 CLP02 5: claim status code not in the guide")


def test_a_segment_out_of_place_is_an_error():
    text = (FILES / "x221a1_example.835").read_text().replace("LX*1~\nCLP", "CLP", 1).replace(
        "SVC*HC:99213", "LX*1~\nSVC*HC:99213", 1)
    with pytest.raises(EdiError) as raised:
        read_edi_text(text, "x.835")
    assert raised.value.segment_number == 13
    assert raised.value.segment_id == "CLP"


def test_reading_prints_and_logs_nothing(capsys, caplog):
    caplog.set_level(logging.DEBUG)
    for path in sorted(FILES.iterdir()):
        try:
            read_edi(path)
        except EdiError:
            pass
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", "")
    assert not any(data in record.getMessage() for record in caplog.records for data in PATIENT_DATA)


def test_fields_are_plain_data():
    fields = _claim("x221a1_example.835", 14).fields
    assert fields["adjustments"][0] == {"group_code": "CO", "carc": "45", "amount": D("20.00")}
    assert fields["service_lines"][1]["procedure_code"] == "85025"
    assert fields["paid"] == D("150.00") and fields["payment_date"] == date(2026, 3, 5)


@pytest.mark.parametrize("kind", ["835", "277", "277ca"])
def test_the_sandbox_clearinghouse_files_read_claim_for_claim(kind):
    """The sandbox writes these files independently of this reader: every claim it carries is read."""
    from sandbox.edi import coverage, file_text
    from sandbox.world import PROFILES, World

    world = World(PROFILES["meridian"], seed=7, today=date(2026, 3, 1))
    edi = read_edi_text(file_text(world, kind, "all"), f"sandbox.{kind}")
    assert sorted(claim.claim_number for claim in edi.claims) == sorted(coverage(world)[kind])
    assert edi.warnings == []
    assert all(claim.finding("meridian").status_category for claim in edi.claims)


def test_a_later_interchange_with_a_short_isa_is_an_error():
    text = (FILES / "several_interchanges.835").read_text().replace("*ZZ*SYNPAYER2      *", "*ZZ*SYNPAYER2     *")
    with pytest.raises(EdiError) as raised:
        read_edi_text(text, "x.835")
    assert str(raised.value) == ("x.835: segment 31 (ISA), element ISA06: ISA element is not 15 characters wide "
                                 "(ISA must be 106 characters)")


def test_damaged_files_raise_edierror_or_read():
    """Random damage (fixed seed): the reader answers with a file or an EdiError, never another exception."""
    rng = random.Random(20260303)
    sources = [(FILES / name).read_text() for name in sorted(FILES_EXPECTED)]
    outcomes = set()
    for _ in range(15):
        text = rng.choice(sources)
        position = rng.randrange(len(text))
        text = text[:position] + rng.choice("*~:|^\n0A9-.") + text[position + rng.randint(0, 3):]
        try:
            read_edi_text(text, "damaged.835")
            outcomes.add("read")
        except EdiError as error:
            outcomes.add("error")
            assert not any(data in str(error) for data in PATIENT_DATA)
    assert outcomes == {"read", "error"}


@pytest.mark.parametrize(("units", "expected"), [("", 1), ("3", 3), ("2.0", 2), ("1.5", 2)])
def test_service_line_units(units, expected):
    text = (FILES / "x221a1_example.835").read_text().replace("SVC*HC:99213*120.00*100.00**1~",
                                                              f"SVC*HC:99213*120.00*100.00**{units}~", 1)
    claim = next(c for c in read_edi_text(text, "x.835").claims if c.claim_number == "PCN1001")
    assert claim.finding("p").service_lines[0].units == expected


def _without(segment: str) -> str:
    return (FILES / "x221a1_example.835").read_text().replace(segment, "", 1).replace("SE*33*", "SE*32*", 1)


def test_a_missing_mandatory_segment_the_reader_does_not_need_is_a_warning():
    edi = read_edi_text(_without("N3*100 EXAMPLE PLAZA~\n"), "x.835")
    assert edi.warnings == ["x.835: segment 8 (N4): a mandatory segment or loop is missing before this segment"]
    assert [claim.claim_number for claim in edi.claims] == ["PCN1001", "PCN1002", "PCN1003"]


def test_an_835_without_its_trn_is_an_error():
    with pytest.raises(EdiError) as raised:
        read_edi_text(_without("TRN*1*CHK0012345*1512345678~\n"), "x.835")
    assert str(raised.value) == "x.835: segment 3 (ST): 835 without its TRN (payment) segment"


def test_a_277_claim_without_its_status_is_an_error():
    text = (FILES / "x214_example.277ca").read_text().replace("STC*A2:20:PR*20260311*WQ*200.00~\n", "", 1)
    text = text.replace("SE*36*", "SE*35*", 1)
    with pytest.raises(EdiError) as raised:
        read_edi_text(text, "x.277ca")
    assert str(raised.value) == "x.277ca: segment 28 (TRN): claim (2200D TRN) without an STC claim status"
