"""The sandbox's X12 files (835, 277, 277CA): valid per pyx12's 005010 maps, well enveloped, true to the oracle."""

from __future__ import annotations

import io
import json
import shutil
import xml.etree.ElementTree as ET
from datetime import date, datetime
from decimal import Decimal
from importlib.resources import files
from pathlib import Path

import pytest
import pyx12.params
import pyx12.x12n_document
from fastapi.testclient import TestClient

from sandbox.edi import (
    Separators,
    acknowledgeable_claims,
    acknowledgment_277ca,
    claim_status_277,
    half,
    remittable_claims,
    remittance_835,
    status_reportable_claims,
)
from sandbox.server import build_app
from sandbox.world import PROFILES, World

TODAY = date(2026, 3, 1)
PORTALS = ["meridian", "northwind", "claimbridge"]
KINDS = {
    "835": (remittable_claims, remittance_835),
    "277": (status_reportable_claims, claim_status_277),
    "277ca": (acknowledgeable_claims, acknowledgment_277ca),
}
_WORLDS: dict[str, World] = {}


def world_of(portal: str) -> World:
    if portal not in _WORLDS:
        _WORLDS[portal] = World(PROFILES[portal], seed=7, today=TODAY)
    return _WORLDS[portal]


# -- pyx12 validation ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def map_dir(tmp_path_factory) -> Path:
    """pyx12's own maps, with its 005010X212 (277) map indexed and repaired.

    pyx12 4.0.0 ships 277.5010.X212.xml but leaves it out of maps.xml, and the map has three defects that
    make every 277 fail: GS01/GS08 codes copied from the 820 (RA, 005010X218), loop 2000B positioned
    before its parent's HL (so HL*..*20 is never matched), and SE outside the ST loop. Only those are fixed.
    """
    target = tmp_path_factory.mktemp("pyx12maps")
    source = files("pyx12").joinpath("map")
    for entry in source.iterdir():
        if entry.name.endswith((".xml", ".xsd")):
            shutil.copyfile(str(entry), target / entry.name)
    index = (target / "maps.xml").read_text()
    entry = '<map vriic="005010X214"'
    assert entry in index and "005010X212" not in index
    index = index.replace(entry, '<map vriic="005010X212" fic="HN" abbr="277">277.5010.X212.xml</map>\n    '
                          + entry, 1)
    (target / "maps.xml").write_text(index)
    tree = ET.parse(target / "277.5010.X212.xml")
    gs_loop = tree.getroot().find("./loop[@xid='ISA_LOOP']/loop[@xid='GS_LOOP']")
    for element, code in (("GS01", "HN"), ("GS08", "005010X212")):
        gs_loop.find(f"./segment[@xid='GS']/element[@xid='{element}']/valid_codes/code").text = code
    st_loop = gs_loop.find("./loop[@xid='ST_LOOP']")
    stray = gs_loop.find("./loop[@xid='TABLE2AREA3']")
    gs_loop.remove(stray)
    st_loop.append(stray.find("./segment[@xid='SE']"))
    st_loop.find(".//loop[@xid='2000B']/pos").text = "0600"
    tree.write(target / "277.5010.X212.xml", encoding="utf-8", xml_declaration=True)
    return target


def validate(text: str, map_dir: Path) -> tuple[bool, list[str]]:
    """pyx12's verdict on a file and every error it reported (interchange, group, transaction, segment)."""
    out = io.StringIO()
    # No 999: pyx12's 999 writer fails on an 835, whose ST has no ST03; the JSON report has the same errors.
    ok = pyx12.x12n_document.x12n_document(pyx12.params.params(), io.StringIO(text), None, None, None, out,
                                           map_path=str(map_dir))
    errors: list[str] = []

    def collect(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("errors", "err_str") and value:
                    errors.extend([json.dumps(value)] if key == "err_str" else [json.dumps(v) for v in value])
                else:
                    collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(json.loads(out.getvalue()))
    return ok, errors


# -- a small independent tokenizer (separators from the ISA, as any reader must) --------------------------
def tokens(text: str) -> list[list[str]]:
    isa = text[:106]
    element, terminator = isa[3], isa[105]
    return [s.lstrip("\r\n").split(element) for s in text.split(terminator) if s.strip("\r\n")]


def components(text: str, value: str) -> list[str]:
    return value.split(text[104])


def amt(value: str) -> Decimal:
    return Decimal(value)


def d(value: str) -> str:
    return f"{value[:4]}-{value[4:6]}-{value[6:8]}"


def remits(segments: list[list[str]]) -> dict[str, dict]:
    """835 claims: CLP, the transaction's BPR/TRN/DTM*405, NM1*TT, lines (SVC, DTM*472, CAS, AMT*B6, LQ)."""
    claims: dict[str, dict] = {}
    tx: dict = {}
    claim: dict = {}
    line: dict = {}
    for s in segments:
        tag = s[0]
        if tag == "ST":
            tx = {"claims": []}
        elif tag in ("BPR", "TRN"):
            tx[tag] = s
        elif tag == "DTM" and s[1] == "405":
            tx["produced"] = s[2]
        elif tag == "CLP":
            claim = {"CLP": s, "tx": tx, "lines": [], "TT": None, "claim_cas": []}
            claims[s[1]] = claim
            tx["claims"].append(claim)
        elif tag == "NM1" and s[1] == "TT":
            claim["TT"] = s[3]
        elif tag == "SVC":
            line = {"SVC": s, "cas": [], "B6": None, "rarc": [], "dos": None}
            claim["lines"].append(line)
        elif tag == "DTM" and s[1] == "472":
            line["dos"] = s[2]
        elif tag == "CAS":
            target = line["cas"] if claim["lines"] else claim["claim_cas"]
            for i in range(2, len(s), 3):
                target.append([s[1], s[i], s[i + 1]])
        elif tag == "AMT" and s[1] == "B6":
            line["B6"] = s[2]
        elif tag == "LQ" and s[1] == "HE":
            line["rarc"].append(s[2])
    return claims


def status_claims(segments: list[list[str]]) -> dict[str, dict]:
    """277/277CA 2200D claims: TRN*2 under a subscriber/patient HL, with its STC, REF*1K and DTP*472."""
    claims: dict[str, dict] = {}
    level, claim = None, None
    for s in segments:
        if s[0] == "HL":
            level, claim = s[3], None
        elif s[0] == "TRN" and s[1] == "2" and level in ("22", "PT"):
            claim = {"STC": None, "1K": None, "EJ": None, "472": None}
            claims[s[2]] = claim
        elif claim is not None and s[0] == "STC" and claim["STC"] is None:
            claim["STC"] = s
        elif claim is not None and s[0] == "REF":
            claim[s[1]] = s[2]
        elif claim is not None and s[0] == "DTP" and s[1] == "472":
            claim["472"] = s[3]
    return claims


def carried(kind: str, text: str) -> list[str]:
    segments = tokens(text)
    return list(remits(segments) if kind == "835" else status_claims(segments))


# -- validity and envelope -------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("portal", PORTALS)
def test_every_file_validates_against_pyx12s_maps(portal, kind, map_dir):
    world = world_of(portal)
    carriable, write = KINDS[kind]
    numbers = carriable(world)
    assert len(numbers) >= 10
    ok, errors = validate(write(world, numbers), map_dir)
    assert errors == []
    assert ok


@pytest.mark.parametrize("kind", list(KINDS))
def test_the_validator_is_not_blind(kind, map_dir):
    """A wrong SE01 count and an unknown code each make pyx12 report the file."""
    world = world_of("meridian")
    carriable, write = KINDS[kind]
    text = write(world, carriable(world)[:3])
    se = next(s for s in text.split("~") if s.lstrip().startswith("SE*"))
    count = se.lstrip().split("*")[1]
    broken = text.replace(se, se.replace(f"SE*{count}*", f"SE*{int(count) + 1}*"))
    assert validate(broken, map_dir)[0] is False
    bad_code = text.replace("*XX*", "*QQ*", 1)
    assert bad_code != text and validate(bad_code, map_dir)[0] is False


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("portal", PORTALS)
def test_envelope_counts_and_control_numbers(portal, kind):
    world = world_of(portal)
    carriable, write = KINDS[kind]
    text = write(world, carriable(world), interchange_number=4711)
    assert text[:106].endswith("~") and len(text[:text.index("~") + 1]) == 106
    segments = tokens(text)
    isa, gs, ge, iea = segments[0], segments[1], segments[-2], segments[-1]
    assert [isa[0], gs[0], ge[0], iea[0]] == ["ISA", "GS", "GE", "IEA"]
    assert isa[13] == iea[2] == "000004711" and iea[1] == "1"
    assert gs[6] == ge[2] == "4711"
    assert isa[9:11] == ["260301", "0600"] and gs[4:6] == ["20260301", "0600"]  # the world's today, 06:00
    assert isa[11] == "^" and isa[16] == ":" and isa[12] == "00501"
    assert gs[8] == {"835": "005010X221A1", "277": "005010X212", "277ca": "005010X214"}[kind]
    starts = [i for i, s in enumerate(segments) if s[0] == "ST"]
    ends = [i for i, s in enumerate(segments) if s[0] == "SE"]
    assert len(starts) == len(ends) == int(ge[1]) >= 1
    for n, (start, end) in enumerate(zip(starts, ends, strict=True), start=1):
        assert segments[start][2] == segments[end][2] == f"{n:04d}"
        assert int(segments[end][1]) == end - start + 1  # SE01 counts ST through SE


@pytest.mark.parametrize("kind", ["277", "277ca"])
@pytest.mark.parametrize("portal", PORTALS)
def test_hierarchy_parents_exist_and_child_codes_say_so(portal, kind):
    segments = tokens(KINDS[kind][1](world_of(portal), KINDS[kind][0](world_of(portal))))
    hls = [s for s in segments if s[0] == "HL"]
    assert [int(h[1]) for h in hls] == list(range(1, len(hls) + 1))
    parents = {h[2] for h in hls if h[2]}
    for hl in hls[1:]:
        assert int(hl[2]) < int(hl[1])
    for hl in hls:
        if len(hl) > 4:
            assert hl[4] == ("1" if hl[1] in parents else "0")


def test_the_file_carries_exactly_the_claims_asked_for():
    for portal in PORTALS:
        world = world_of(portal)
        for kind, (carriable, write) in KINDS.items():
            everything = carriable(world)
            asked = half(everything)
            assert asked == everything[::2] and 0 < len(asked) < len(everything)
            assert sorted(carried(kind, write(world, asked))) == asked
            some = [everything[1], everything[-1]]
            assert sorted(carried(kind, write(world, some))) == some


def test_output_is_deterministic_and_created_can_be_given():
    a = World(PROFILES["northwind"], seed=7, today=TODAY)
    b = World(PROFILES["northwind"], seed=7, today=TODAY)
    for carriable, write in KINDS.values():
        assert write(a, carriable(a)) == write(b, carriable(b))
    text = remittance_835(a, remittable_claims(a)[:2], created=datetime(2026, 3, 2, 21, 45))
    assert tokens(text)[0][9:11] == ["260302", "2145"]


def test_claims_a_kind_cannot_carry_are_refused():
    world = world_of("meridian")
    pending = status_reportable_claims(world)[0]
    paid = remittable_claims(world)[0]
    zero_paid = next(c.claim_number for c in world.claims if c.outcome == "paid" and c.total("paid") == 0)
    adjusted = next(c.claim_number for c in world.claims if c.outcome == "adjusted")
    for kind, number in [("835", pending), ("835", zero_paid), ("835", adjusted), ("277", paid),
                         ("277ca", pending), ("835", "C1NOSUCH")]:
        with pytest.raises(ValueError, match=number):
            KINDS[kind][1](world, [number])
    with pytest.raises(ValueError):
        remittance_835(world, [])


def test_custom_separators(map_dir):
    world = world_of("claimbridge")
    sep = Separators(element="|", component=">", repetition="!", segment="\n")
    for carriable, write in KINDS.values():
        numbers = half(carriable(world))
        text = write(world, numbers, separators=sep)
        assert text[3] == "|" and text[104] == ">" and text[105] == "\n" and text.split("|")[11] == "!"
        assert "*" not in text and "~" not in text and "\n\n" not in text
        assert validate(text, map_dir) == (True, [])
        assert text.replace("|", "*").replace(">", ":").replace("!", "^").replace("\n", "~\n") \
            == write(world, numbers)
    with pytest.raises(ValueError):
        Separators(element="*", component="*")


# -- the files say what the oracle says ------------------------------------------------------------------------
def _status_of_835(clp02: str, paid: Decimal) -> str | None:
    # The mapping the EDI reader applies (bots/edi): 1/19 -> F1 when something is paid, else F4; 4 -> F2.
    if clp02 in ("1", "19"):
        return "F1" if paid > 0 else "F4"
    return {"4": "F2"}.get(clp02)


@pytest.mark.parametrize("portal", PORTALS)
def test_every_835_claim_equals_the_oracle(portal):
    world = world_of(portal)
    oracle = world.oracle()["claims"]
    claims = remits(tokens(remittance_835(world, remittable_claims(world))))
    assert sorted(claims) == remittable_claims(world)
    outcomes = {world.claim(n).outcome for n in claims}
    assert outcomes == {"paid", "partially_paid", "crossover", "denied", "no_payment"}
    for number, c in claims.items():
        o, clp, tx = oracle[number], c["CLP"], c["tx"]
        bpr, trn = tx["BPR"], tx["TRN"]
        assert _status_of_835(clp[2], amt(clp[4])) == o["status_category"], number
        assert (amt(clp[3]), amt(clp[4]), amt(clp[5])) == (amt(o["billed"]), amt(o["paid"]),
                                                            amt(o["patient_responsibility"])), number
        assert sum((amt(line["B6"]) for line in c["lines"]), Decimal(0)) == amt(o["allowed"]), number
        assert clp[7] == o["payer_claim_number"]
        assert d(tx["produced"]) == o["adjudication_date"]
        method = {"ACH": "EFT", "CHK": "CHK", "NON": None}[bpr[4]]
        assert method == o["payment_method"], number
        if method:
            assert (trn[2], d(bpr[16])) == (o["check_number"], o["payment_date"]), number
        else:
            assert bpr[1] == "H" and amt(bpr[2]) == 0 and o["check_number"] is None and o["payment_date"] is None
        assert c["TT"] == o["crossover_payer"]
        adjustments = [a for line in c["lines"] for a in line["cas"]]
        assert [[g, r, amt(a)] for g, r, a in adjustments] == [[g, r, amt(a)] for g, r, a in o["adjustments"]]
        assert list(dict.fromkeys(r for _g, r, _a in adjustments)) == o["carc_codes"]
        assert list(dict.fromkeys(r for line in c["lines"] for r in line["rarc"])) == o["rarc_codes"]
        assert [components(remittance_835(world, [number]), line["SVC"][1])[1] for line in c["lines"]] \
            == o["procedure_codes"]
        assert [int(line["SVC"][5]) for line in c["lines"]] == o["units"]
        assert {d(line["dos"]) for line in c["lines"]} == {o["date_of_service"]}
        assert c["claim_cas"] == []


@pytest.mark.parametrize("portal", PORTALS)
def test_835_balances(portal):
    world = world_of(portal)
    segments = tokens(remittance_835(world, remittable_claims(world)))
    transactions = {}
    for claim in remits(segments).values():
        transactions.setdefault(id(claim["tx"]), claim["tx"])
        paid = sum((amt(line["SVC"][3]) for line in claim["lines"]), Decimal(0))
        assert paid == amt(claim["CLP"][4])
        for line in claim["lines"]:
            assert amt(line["SVC"][2]) - sum((amt(a) for _g, _r, a in line["cas"]), Decimal(0)) \
                == amt(line["SVC"][3])
    for tx in transactions.values():
        assert amt(tx["BPR"][2]) == sum((amt(c["CLP"][4]) for c in tx["claims"]), Decimal(0))
        payments = {world.claim(c["CLP"][1]).check_number for c in tx["claims"]}
        assert len(payments) == 1 and tx["TRN"][2] == (payments.pop() or tx["TRN"][2])  # one payment each


def test_hand_checked_835_claim_segments():
    """One partially paid claim, segment by segment, against the oracle."""
    world = world_of("meridian")
    claim = next(c for c in world.claims if c.outcome == "partially_paid" and c.claim_number in
                 remittable_claims(world) and c.payment_method == "EFT")
    o = world.oracle()["claims"][claim.claim_number]
    text = remittance_835(world, [claim.claim_number])
    lines = text.split("~\n")
    clp = next(x for x in lines if x.startswith("CLP*"))
    assert clp == (f"CLP*{claim.claim_number}*1*{Decimal(o['billed']).normalize():f}*"
                   f"{Decimal(o['paid']).normalize():f}*{Decimal(o['patient_responsibility']).normalize():f}"
                   f"*HM*{o['payer_claim_number']}*11*1")
    assert f"TRN*1*{o['check_number']}*" in text and "BPR*I*" in text and "*ACH*CCP*" in text
    assert f"DTM*405*{o['adjudication_date'].replace('-', '')}" in lines
    assert lines[3].endswith(o["payment_date"].replace("-", ""))  # BPR16
    first = claim.lines[0]
    cas = [x for x in lines if x.startswith("CAS*")]
    co = [f"45*{a.normalize():f}*" for g, _c, a in first.adjustments if g == "CO"]
    assert cas[0] == "CAS*CO*" + "*".join(co).rstrip("*")  # both CO 45 amounts, one CAS for the group
    assert "NM1*QC*1*" + claim.member.last_name in text


@pytest.mark.parametrize("kind", ["277", "277ca"])
@pytest.mark.parametrize("portal", PORTALS)
def test_every_277_claim_equals_the_oracle(portal, kind):
    world = world_of(portal)
    oracle = world.oracle()["claims"]
    carriable, write = KINDS[kind]
    text = write(world, carriable(world))
    claims = status_claims(tokens(text))
    assert sorted(claims) == carriable(world)
    expected = {"277": {"P1", "P2", "P3", "R4"}, "277ca": {"A1", "A2", "A6", "A7"}}[kind]
    assert {oracle[n]["status_category"] for n in claims} == expected
    for number, c in claims.items():
        o = oracle[number]
        stc = c["STC"]
        assert components(text, stc[1])[0] == o["status_category"], number
        billed = stc[4]
        assert amt(billed) == amt(o["billed"]), number
        assert c["1K"] == o["payer_claim_number"]
        assert d(c["472"]) == o["date_of_service"]
        if kind == "277":
            assert c["EJ"] == number and amt(stc[5]) == 0 and len(stc) == 6  # no STC06: not adjudicated
        else:
            assert stc[3] == ("U" if o["status_category"] in ("A6", "A7") else "WQ")


# -- the oracle and the harness routes -------------------------------------------------------------------------
def test_oracle_says_which_claims_each_file_kind_covers():
    world = world_of("northwind")
    oracle = world.oracle()
    assert oracle["edi"] == {"835": remittable_claims(world), "277": status_reportable_claims(world),
                             "277ca": acknowledgeable_claims(world)}
    json.dumps(oracle)
    for kind, numbers in oracle["edi"].items():
        assert set(numbers) <= set(oracle["claims"])
        assert not (set(numbers) & set().union(*(set(v) for k, v in oracle["edi"].items() if k != kind)))


def test_harness_routes_serve_the_files_and_their_claims():
    app, states = build_app(seed=7, today=TODAY, claims=60)
    with TestClient(app) as client:
        for portal, state in states.items():
            world = state.world
            for kind, (carriable, write) in KINDS.items():
                asked = half(carriable(world))
                reply = client.get(f"/_sandbox/{portal}/edi/{kind}", params={"claims": "half"})
                assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/plain")
                assert reply.text == write(world, asked)
                assert client.get(f"/_sandbox/{portal}/edi/{kind}/claims", params={"claims": "half"}).json() \
                    == asked
                assert client.get(f"/_sandbox/{portal}/edi/{kind}/claims").json() == carriable(world)
                two = ",".join(carriable(world)[:2])
                assert client.get(f"/_sandbox/{portal}/edi/{kind}", params={"claims": two}).text \
                    == write(world, carriable(world)[:2])
                assert client.get(f"/_sandbox/{portal}/edi/{kind}", params={"interchange": 9}).text \
                    == write(world, carriable(world), interchange_number=9)
            assert client.get(f"/_sandbox/{portal}/oracle").json()["edi"]["835"] == remittable_claims(world)
        pending = status_reportable_claims(states["meridian"].world)[0]
        refused = client.get("/_sandbox/meridian/edi/835", params={"claims": pending})
        assert refused.status_code == 400 and pending in refused.json()["detail"]
        assert client.get("/_sandbox/meridian/edi/837").status_code == 404
        assert client.get("/_sandbox/nowhere/edi/835").status_code == 404


def test_settled_claims_move_from_the_277_to_the_835():
    world = World(PROFILES["meridian"], seed=7, today=TODAY, claims=80)
    pended = [c.claim_number for c in world.claims if c.outcome in ("pended_records", "documentation_requested")]
    assert pended and set(pended) <= set(status_reportable_claims(world))
    settled = world.settle_pended_claims()
    assert set(settled) <= set(remittable_claims(world)) and not set(settled) & set(status_reportable_claims(world))
    claims = remits(tokens(remittance_835(world, settled)))
    assert {c["tx"]["TRN"][2] for c in claims.values()} == {f"1T{n}" for n in settled}
