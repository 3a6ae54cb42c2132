"""The synthetic payer world behind every sandbox portal: members, claims, letters, authorizations.

Everything is generated from a seed and a "today" date, so a portal, its claims inventory (what a
practice would export) and its oracle (what a perfect bot must find) always agree. Portals render
this world in their own wording; the oracle speaks only in canonical terms. All data is synthetic.
"""

from __future__ import annotations

import csv
import hashlib
import io
import random
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from sandbox.accounts import DEFAULT_PRACTICES, Account, check_practices, make_accounts
from sandbox.practices import assign_practices

CENT = Decimal("0.01")

# outcome -> (X12 claim status category a perfect bot reports, finalized?)
OUTCOMES: dict[str, tuple[str | None, bool]] = {
    "received": ("A1", False),
    "accepted": ("A2", False),
    "in_process": ("P1", False),
    "medical_review": ("P2", False),
    "pended_records": ("P3", False),
    "documentation_requested": ("R4", False),
    "paid": ("F1", True),
    "partially_paid": ("F1", True),
    "crossover": ("F1", True),
    "adjusted": ("F3", True),
    "no_payment": ("F4", True),
    "denied": ("F2", True),
    "rejected_invalid": ("A7", False),
    "rejected_missing": ("A6", False),
    "not_found": ("D0", False),
    # The portal shows wording its help pages never list: a perfect bot keeps it raw, maps it to
    # nothing and raises it to an operator. The truth behind it (a COB hold) is not visible to bots.
    "unlisted_wording": (None, False),
}

_OUTCOME_WEIGHTS = {
    "received": 6, "accepted": 6, "in_process": 14, "medical_review": 5, "pended_records": 10,
    "documentation_requested": 5, "paid": 40, "partially_paid": 8, "crossover": 5, "adjusted": 4,
    "no_payment": 5, "denied": 14, "rejected_invalid": 4, "rejected_missing": 4, "not_found": 6,
    "unlisted_wording": 2,
}

# CPT/HCPCS code -> (description, billed charge, contracted allowed)
PROCEDURES: dict[str, tuple[str, Decimal, Decimal]] = {
    "99213": ("Office visit, established, low", Decimal("145.00"), Decimal("92.18")),
    "99214": ("Office visit, established, moderate", Decimal("210.00"), Decimal("131.40")),
    "99204": ("Office visit, new, moderate", Decimal("325.00"), Decimal("198.75")),
    "97110": ("Therapeutic exercise, 15 min", Decimal("85.00"), Decimal("31.22")),
    "97140": ("Manual therapy, 15 min", Decimal("80.00"), Decimal("28.90")),
    "97530": ("Therapeutic activities, 15 min", Decimal("90.00"), Decimal("34.10")),
    "72148": ("MRI lumbar spine w/o contrast", Decimal("1450.00"), Decimal("412.55")),
    "73721": ("MRI knee w/o contrast", Decimal("1320.00"), Decimal("398.02")),
    "36415": ("Venipuncture", Decimal("25.00"), Decimal("8.46")),
    "80053": ("Comprehensive metabolic panel", Decimal("95.00"), Decimal("10.56")),
    "93000": ("Electrocardiogram, complete", Decimal("120.00"), Decimal("16.80")),
    "J3301": ("Triamcinolone acetonide, 10 mg", Decimal("40.00"), Decimal("1.74")),
    "20610": ("Arthrocentesis, major joint", Decimal("310.00"), Decimal("66.25")),
    "G0283": ("Electrical stimulation, unattended", Decimal("45.00"), Decimal("11.90")),
}
_AUTH_SERVICES = {
    "Physical therapy": ["97110", "97140", "97530"],
    "MRI lumbar spine": ["72148"],
    "MRI knee": ["73721"],
    "Joint injection": ["20610", "J3301"],
}
_DENIALS = [  # (CARC, RARC, plain reason)
    ("50", "N130", "These are non-covered services because this is not deemed a medical necessity."),
    ("197", "N54", "Precertification/authorization/notification absent."),
    ("16", "M127", "Claim/service lacks information which is needed for adjudication."),
    ("29", "N211", "The time limit for filing has expired."),
    ("96", "N425", "Non-covered charge(s)."),
]
_FIRST = ["Avery", "Jordan", "Riley", "Morgan", "Casey", "Taylor", "Quinn", "Rowan", "Skyler", "Emerson",
          "Harper", "Logan", "Parker", "Reese", "Sawyer", "Finley", "Hayden", "Kendall", "Marlow", "Sage"]
_LAST = ["Ashdown", "Brightwater", "Calloway", "Dunmore", "Everly", "Fairbanks", "Greystone", "Hollins",
         "Ivers", "Jessup", "Kettering", "Lowell", "Merriweather", "Northcott", "Oakhurst", "Pennington",
         "Quarry", "Redfield", "Stonebridge", "Thistlewood"]
_AUTH_CLAIMS = [100, 101, 102, 103, 104, 105, 106, 107]  # claim indexes billed under an authorization
_SECONDARY = ["State Medicaid Plan (synthetic)", "Medigap Plan F (synthetic)", "Evergreen Supplemental"]
_PROVIDERS = [("Harbor Physical Therapy", "1234567893"), ("Lakeside Imaging Center", "1245319599"),
              ("Northside Orthopedics", "1386757655")]


@dataclass(frozen=True)
class PayerProfile:
    """A synthetic payer: ids, number formats, policy windows and its one portal account."""

    payer_id: str
    name: str
    icn_prefix: str
    member_prefix: str
    claim_prefix: str
    appeal_window_days: int
    records_due_days: int
    username: str
    password: str
    totp_seed: str


PROFILES: dict[str, PayerProfile] = {
    "meridian": PayerProfile("meridian", "Meridian Health Plan", "MHP", "MRD", "C1", 90, 30,
                             "harbor.billing", "Sandbox-Meridian-2026!", "JBSWY3DPEHPK3PXPMERIDIAN"),
    "northwind": PayerProfile("northwind", "Northwind Mutual", "NWM", "NWM", "C2", 120, 21,
                              "billing@harborpt.example", "Sandbox-Northwind-2026!", ""),
    "claimbridge": PayerProfile("claimbridge", "Lakeside Health Cooperative (via ClaimBridge)", "LHC", "LHC",
                                "C3", 60, 45, "harborpt", "Sandbox-ClaimBridge-2026!", ""),
}


@dataclass
class Member:
    member_id: str
    first_name: str
    last_name: str
    dob: date


@dataclass
class Line:
    line_number: int
    procedure_code: str
    units: int
    billed: Decimal
    allowed: Decimal
    paid: Decimal
    patient_responsibility: Decimal
    adjustments: list[tuple[str, str, Decimal]] = field(default_factory=list)  # (group, CARC, amount)
    rarc_codes: list[str] = field(default_factory=list)


@dataclass
class Claim:
    claim_number: str
    member: Member
    date_of_service: date
    submitted_date: date
    provider_name: str
    provider_npi: str
    outcome: str
    lines: list[Line]
    expected_amount: Decimal
    payer_claim_number: str | None
    inventory_has_icn: bool
    auth_number: str | None = None
    adjudication_date: date | None = None
    payment_method: str | None = None
    check_number: str | None = None
    payment_date: date | None = None
    pending_reason: str | None = None
    crossover_payer: str | None = None
    denial_reason: str | None = None
    search_reference: str | None = None
    practice: str = DEFAULT_PRACTICES[0]  # the client practice that billed it (only its logins see it)

    @property
    def status_category(self) -> str | None:
        return OUTCOMES[self.outcome][0]

    @property
    def finalized(self) -> bool:
        return OUTCOMES[self.outcome][1]

    @property
    def on_file(self) -> bool:
        return self.outcome != "not_found"

    def total(self, attr: str) -> Decimal:
        return sum((getattr(line, attr) for line in self.lines), Decimal("0.00"))


@dataclass
class Letter:
    letter_id: str
    letter_type: str  # remittance, records_request, denial, authorization_decision, appeal_decision, other
    letter_date: date
    title: str
    file_name: str
    claim_number: str | None
    payer_claim_number: str | None
    reference_number: str | None
    due_date: date | None
    body: list[str]
    held: bool = False  # not on the portal until the harness releases it (a later night's mail)
    practice: str = DEFAULT_PRACTICES[0]  # whose mailbox it is in


@dataclass
class Authorization:
    auth_number: str
    member: Member
    service: str
    procedure_codes: list[str]
    provider: str
    facility: str
    status: str  # approved, pended, denied, partially_approved
    requested_units: int
    approved_units: int
    used_units: int
    requested_date: date
    decision_date: date | None
    start_date: date | None
    end_date: date | None
    practice: str = DEFAULT_PRACTICES[0]  # the practice that requested it


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT)


class World:
    """One payer's synthetic world, generated deterministically from (profile, seed, today)."""

    def __init__(self, profile: PayerProfile, *, seed: int = 7, today: date | None = None,
                 claims: int = 220, members: int = 45, authorizations: int = 30,
                 practices: tuple[str, ...] = DEFAULT_PRACTICES, accounts_per_practice: int = 1):
        self.practices = check_practices(practices, accounts_per_practice)
        self.accounts: list[Account] = make_accounts(profile, seed, self.practices, accounts_per_practice)
        self.profile = profile
        self.seed = seed
        self.today = today or date.today()
        self.rng = random.Random(f"{seed}:{profile.payer_id}")
        self.members = [self._member(i) for i in range(members)]
        self.authorizations = [self._authorization(i) for i in range(authorizations)]
        self.claims = [self._claim(i) for i in range(claims)]
        self._pair_claims_on_same_day()
        self.letters: list[Letter] = []
        self._letters()
        assign_practices(self, self.practices)  # after generation: the seeded draws stay as they were
        self._claims_of = {p: [c for c in self.claims if c.practice == p] for p in self.practices}

    # -- generation ------------------------------------------------------------------------------------
    def _member(self, i: int) -> Member:
        rng = self.rng
        return Member(
            member_id=f"{self.profile.member_prefix}{rng.randrange(10**8, 10**9)}",
            first_name=rng.choice(_FIRST),
            last_name=rng.choice(_LAST),
            dob=date(rng.randrange(1940, 2015), rng.randrange(1, 13), rng.randrange(1, 29)),
        )

    def _icn(self, i: int, on: date) -> str:
        return f"{self.profile.icn_prefix}{on:%y}{on.timetuple().tm_yday:03d}{i:06d}"

    def _claim(self, i: int) -> Claim:
        rng = self.rng
        outcome = rng.choices(list(_OUTCOME_WEIGHTS), weights=list(_OUTCOME_WEIGHTS.values()))[0]
        # Guarantee every outcome appears at least once in a full-size world.
        if i < len(_OUTCOME_WEIGHTS):
            outcome = list(_OUTCOME_WEIGHTS)[i]
        member = rng.choice(self.members)
        dos = self.today - timedelta(days=rng.randrange(12, 150))
        provider, npi = rng.choice(_PROVIDERS)
        codes = rng.sample(list(PROCEDURES), k=rng.randrange(1, 4))
        auth = self._authorization_for_claim(i)
        if auth is not None:
            # Claims billed under an authorization; two fall outside it (after its end, an uncovered code).
            member, dos, codes = auth.member, auth.start_date + timedelta(days=1), [auth.procedure_codes[0]]
            if i == _AUTH_CLAIMS[6]:
                dos = auth.end_date + timedelta(days=5)
            if i == _AUTH_CLAIMS[7]:
                codes = ["99204"]
            outcome = rng.choice(["paid", "in_process", "received"])
        lines: list[Line] = []
        for n, code in enumerate(codes, start=1):
            units = rng.choice([1, 1, 1, 2, 3]) if code.startswith("97") else 1
            _desc, charge, allowed = PROCEDURES[code]
            lines.append(Line(n, code, units, _money(charge * units), _money(allowed * units),
                              Decimal("0.00"), Decimal("0.00")))
        expected = sum((line.allowed for line in lines), Decimal("0.00"))
        claim = Claim(
            claim_number=f"{self.profile.claim_prefix}{10000 + i:05d}",
            member=member, date_of_service=dos, submitted_date=dos + timedelta(days=rng.randrange(1, 6)),
            provider_name=provider, provider_npi=npi, outcome=outcome, lines=lines,
            expected_amount=expected, payer_claim_number=None, inventory_has_icn=False,
            auth_number=auth.auth_number if auth else None,
        )
        self._adjudicate(claim, i)
        return claim

    def _adjudicate(self, claim: Claim, i: int) -> None:
        """Fill in what the payer decided, consistently with the outcome."""
        rng = self.rng
        outcome = claim.outcome
        if outcome == "not_found":
            claim.search_reference = search_reference(self.profile.payer_id, claim.member.member_id,
                                                      claim.date_of_service)
            return
        claim.payer_claim_number = self._icn(i, claim.submitted_date)
        claim.inventory_has_icn = rng.random() < 0.6
        if outcome in ("received", "accepted", "in_process"):
            return
        if outcome == "medical_review":
            claim.pending_reason = "Clinical review of medical necessity in progress"
            return
        if outcome in ("pended_records", "documentation_requested"):
            claim.pending_reason = rng.choice([
                "Medical records requested: office notes for date of service",
                "Itemized bill and operative report requested",
            ])
            return
        if outcome == "rejected_invalid":
            claim.pending_reason = "Subscriber ID not found for the date of service"
            return
        if outcome == "rejected_missing":
            claim.pending_reason = "Rendering provider NPI missing"
            return
        if outcome == "unlisted_wording":
            claim.pending_reason = "Awaiting other insurance information"
            return
        # Finalized outcomes.
        claim.adjudication_date = min(claim.submitted_date + timedelta(days=rng.randrange(10, 30)),
                                      self.today - timedelta(days=1))
        for line in claim.lines:
            contractual = line.billed - line.allowed
            line.adjustments.append(("CO", "45", _money(contractual)))
        if outcome == "denied":
            carc, rarc, reason = rng.choice(_DENIALS)
            claim.denial_reason = reason
            for line in claim.lines:
                line.adjustments = [("CO", carc, line.billed)]
                line.allowed = Decimal("0.00")
                line.rarc_codes = [rarc]
            return
        if outcome == "partially_paid":
            # The payer priced one line below contract (the practice was underpaid on it).
            short = claim.lines[0]
            cut = _money(short.allowed * Decimal("0.35"))
            short.allowed -= cut
            short.adjustments.append(("CO", "45", cut))
        if outcome == "adjusted":
            claim.lines[0].rarc_codes = ["N4"]  # "missing/incomplete/invalid prior insurance carrier EOB"
        if outcome == "no_payment":
            for line in claim.lines:
                line.patient_responsibility = line.allowed
                line.adjustments.append(("PR", "1", line.allowed))
        else:
            first = claim.lines[0]
            copay = min(first.allowed, Decimal(rng.choice(["0.00", "20.00", "30.00", "40.00"])))
            if copay:
                first.patient_responsibility = copay
                first.adjustments.append(("PR", "3", copay))
        for line in claim.lines:
            line.paid = line.allowed - line.patient_responsibility
        if outcome == "crossover":
            claim.crossover_payer = rng.choice(_SECONDARY)
        if claim.total("paid") > 0:
            claim.payment_method = rng.choice(["EFT", "CHK"])
            digits = rng.randrange(10**8, 10**9)
            claim.check_number = f"1T{digits}" if claim.payment_method == "EFT" else f"{digits % 10**7:07d}"
            claim.payment_date = min(claim.adjudication_date + timedelta(days=rng.randrange(2, 6)), self.today)

    def _pair_claims_on_same_day(self) -> None:
        """Real inventories have two claims for one member on one day: searching by member and date
        of service then returns several rows and the bot must pick by patient account number."""
        for a, b in ((20, 21), (40, 41), (60, 61)):
            if b < len(self.claims):
                self.claims[b].member = self.claims[a].member
                self.claims[b].date_of_service = self.claims[a].date_of_service
                self.claims[b].inventory_has_icn = False
                self.claims[a].inventory_has_icn = False
        for claim in self.claims:  # member or date of service changed above: the inquiry reference follows
            if claim.outcome == "not_found":
                claim.search_reference = search_reference(self.profile.payer_id, claim.member.member_id,
                                                          claim.date_of_service)

    def _authorization(self, i: int) -> Authorization:
        rng = self.rng
        service = rng.choice(list(_AUTH_SERVICES))
        status = ["approved", "approved", "approved", "pended", "denied", "partially_approved"][i % 6]
        requested = self.today - timedelta(days=rng.randrange(2, 90) if status != "pended" else rng.randrange(1, 5))
        units = rng.choice([6, 8, 12, 20]) if service == "Physical therapy" else 1
        approved = {"approved": units, "partially_approved": max(1, units // 2)}.get(status, 0)
        used = rng.randrange(0, approved + 1) if approved else 0
        start = requested + timedelta(days=rng.randrange(1, 5)) if approved else None
        end = start + timedelta(days=rng.choice([30, 60, 90])) if start else None
        if i in (0, 6) and start:  # expiring soon with visits left
            end, used = self.today + timedelta(days=rng.randrange(3, 12)), 0
        if i == 12 and approved:  # nearly used up
            used = approved - 1 if approved >= 5 else approved
        if i == 3:  # pended for a while
            requested = self.today - timedelta(days=20)
        provider, _npi = rng.choice(_PROVIDERS)
        return Authorization(
            auth_number=f"{self.profile.icn_prefix}A{rng.randrange(10**6, 10**7)}",
            member=rng.choice(self.members), service=service, procedure_codes=_AUTH_SERVICES[service],
            provider=provider, facility=rng.choice(["Main Campus", "Eastside Clinic", "Harbor Annex"]),
            status=status, requested_units=units, approved_units=approved, used_units=used,
            requested_date=requested, decision_date=None if status == "pended" else requested + timedelta(days=2),
            start_date=start, end_date=end,
        )

    def _authorization_for_claim(self, i: int) -> Authorization | None:
        """The authorization claim number i bills under, if it is one of the linked claims."""
        if i not in _AUTH_CLAIMS:
            return None
        usable = [a for a in self.authorizations if a.status in ("approved", "partially_approved")]
        n = _AUTH_CLAIMS.index(i)
        return usable[n % len(usable)] if usable else None

    def _letters(self) -> None:
        rng = self.rng
        n = 0

        def add(**kwargs) -> None:
            nonlocal n
            n += 1
            kwargs.setdefault("held", False)
            self.letters.append(Letter(letter_id=f"{self.profile.icn_prefix}-L{n:05d}", **kwargs))

        for claim in self.claims:
            patient = f"{claim.member.first_name} {claim.member.last_name}"
            header = [f"Patient: {patient}", f"Member ID: {claim.member.member_id}",
                      f"Claim Number: {claim.payer_claim_number}", f"Patient Account: {claim.claim_number}",
                      f"Date of Service: {claim.date_of_service:%m/%d/%Y}"]
            if claim.outcome in ("pended_records", "documentation_requested"):
                sent = self.today - timedelta(days=rng.randrange(1, 8))
                dcn = f"DCN{rng.randrange(10**9, 10**10)}"
                due = sent + timedelta(days=self.profile.records_due_days)
                add(letter_type="records_request", letter_date=sent, title="Request for Medical Records",
                    file_name=f"Records Request {claim.payer_claim_number}.pdf",
                    claim_number=claim.claim_number, payer_claim_number=claim.payer_claim_number,
                    reference_number=dcn, due_date=due,
                    body=["REQUEST FOR MEDICAL RECORDS", *header, f"Document Control Number: {dcn}",
                          f"Please send the requested records by {due:%m/%d/%Y}.",
                          f"Records requested: {claim.pending_reason}.",
                          "Include the document control number on the cover sheet of your response."])
            elif claim.outcome == "denied":
                deadline = claim.adjudication_date + timedelta(days=self.profile.appeal_window_days)
                add(letter_type="denial", letter_date=claim.adjudication_date, title="Claim Denial Notice",
                    file_name=f"Denial_Notice_{claim.payer_claim_number}_FINAL (1).pdf",
                    claim_number=claim.claim_number, payer_claim_number=claim.payer_claim_number,
                    reference_number=claim.payer_claim_number, due_date=deadline,
                    body=["NOTICE OF CLAIM DENIAL", *header, f"Reason: {claim.denial_reason}",
                          f"You may appeal this decision. Appeals must be received by {deadline:%m/%d/%Y}.",
                          f"Send appeals to: {self.profile.name} Appeals Unit, PO Box 4100, Springfield, ST 00001."])
            elif claim.finalized and claim.outcome != "denied" and rng.random() < 0.35:
                add(letter_type="remittance", letter_date=claim.payment_date or claim.adjudication_date,
                    title="Explanation of Benefits / Remittance Advice",
                    file_name=f"EOB {claim.check_number or claim.payer_claim_number} - remittance advice "
                              f"for services rendered and adjudicated under your provider agreement.pdf",
                    claim_number=claim.claim_number, payer_claim_number=claim.payer_claim_number,
                    reference_number=claim.payer_claim_number, due_date=None,
                    body=["EXPLANATION OF BENEFITS - REMITTANCE ADVICE", *header,
                          f"Billed: ${claim.total('billed'):,.2f}", f"Allowed: ${claim.total('allowed'):,.2f}",
                          f"Paid: ${claim.total('paid'):,.2f}",
                          f"Patient Responsibility: ${claim.total('patient_responsibility'):,.2f}",
                          f"Payment: {claim.payment_method or 'none'} {claim.check_number or ''}".strip()])
        denied = [c for c in self.claims if c.outcome == "denied"]
        for claim in denied[:2]:
            decided = self.today - timedelta(days=rng.randrange(1, 5))
            add(letter_type="appeal_decision", letter_date=decided, title="Appeal Decision",
                file_name=f"../../appeal decision {claim.payer_claim_number}.pdf",
                claim_number=claim.claim_number, payer_claim_number=claim.payer_claim_number,
                reference_number=claim.payer_claim_number, due_date=None,
                body=["APPEAL DECISION", f"Claim Number: {claim.payer_claim_number}",
                      f"Patient Account: {claim.claim_number}",
                      "After review, the original decision is upheld. No further payment will be made."])
        for auth in self.authorizations:
            if auth.decision_date is None:
                continue
            add(letter_type="authorization_decision", letter_date=auth.decision_date,
                title="Prior Authorization Determination", file_name=f"Auth {auth.auth_number}.pdf",
                claim_number=None, payer_claim_number=None, reference_number=auth.auth_number, due_date=None,
                body=["PRIOR AUTHORIZATION DETERMINATION", f"Authorization Number: {auth.auth_number}",
                      f"Member ID: {auth.member.member_id}", f"Service: {auth.service}",
                      f"Determination: {auth.status.replace('_', ' ')}",
                      f"Approved units: {auth.approved_units}"])
        add(letter_type="other", letter_date=self.today - timedelta(days=3),
            title="Provider Bulletin", file_name="provider bulletin Q4.pdf", claim_number=None,
            payer_claim_number=None, reference_number=None, due_date=None,
            body=["PROVIDER BULLETIN", "Changes to telehealth place-of-service rules take effect next quarter.",
                  "No action is required on any claim."])
        # Next night's mail: released by the harness to prove a later night picks up exactly these.
        for claim in [c for c in self.claims if c.outcome == "paid"][:2]:
            add(letter_type="remittance", letter_date=self.today, title="Explanation of Benefits / Remittance Advice",
                file_name=f"EOB {claim.payer_claim_number} corrected.pdf", claim_number=claim.claim_number,
                payer_claim_number=claim.payer_claim_number, reference_number=claim.payer_claim_number,
                due_date=None, held=True,
                body=["EXPLANATION OF BENEFITS - REMITTANCE ADVICE (CORRECTED COPY)",
                      f"Claim Number: {claim.payer_claim_number}", f"Patient Account: {claim.claim_number}",
                      f"Paid: ${claim.total('paid'):,.2f}"])
        extra = next(c for c in self.claims if c.outcome == "in_process")
        dcn = f"DCN{rng.randrange(10**9, 10**10)}"
        due = self.today + timedelta(days=self.profile.records_due_days)
        add(letter_type="records_request", letter_date=self.today, title="Request for Medical Records",
            file_name=f"Records Request {extra.payer_claim_number}.pdf", claim_number=extra.claim_number,
            payer_claim_number=extra.payer_claim_number, reference_number=dcn, due_date=due, held=True,
            body=["REQUEST FOR MEDICAL RECORDS", f"Claim Number: {extra.payer_claim_number}",
                  f"Patient Account: {extra.claim_number}", f"Document Control Number: {dcn}",
                  f"Please send the requested records by {due:%m/%d/%Y}."])
        self.letters.sort(key=lambda letter: (letter.letter_date, letter.letter_id), reverse=True)

    # -- harness actions ---------------------------------------------------------------------------------
    def release_held_letters(self) -> list[str]:
        """Put the next night's letters on the portal; return their ids."""
        released = [letter for letter in self.letters if letter.held]
        for letter in released:
            letter.held = False
        return [letter.letter_id for letter in released]

    def settle_pended_claims(self) -> list[str]:
        """Claims pended for records get paid in full (a later night must close their tasks)."""
        settled = []
        for claim in self.claims:
            if claim.outcome in ("pended_records", "documentation_requested"):
                claim.outcome = "paid"
                claim.pending_reason = None
                claim.adjudication_date = self.today
                for line in claim.lines:
                    line.adjustments = [("CO", "45", line.billed - line.allowed)]
                    line.patient_responsibility = Decimal("0.00")
                    line.paid = line.allowed
                claim.payment_method, claim.payment_date = "EFT", self.today
                claim.check_number = f"1T{claim.claim_number}"
                settled.append(claim.claim_number)
        return settled

    # -- views ---------------------------------------------------------------------------------------------
    def visible_letters(self) -> list[Letter]:
        """Letters currently on the portal, newest first."""
        return [letter for letter in self.letters if not letter.held]

    def claim(self, claim_number: str) -> Claim | None:
        return next((c for c in self.claims if c.claim_number == claim_number), None)

    @property
    def several_practices(self) -> bool:
        """Whether claims are split between practices (the inventory and oracle then name the practice)."""
        return len(self.practices) > 1

    def claims_of(self, practice: str | None) -> list[Claim]:
        """The claims one practice's logins see (in world order); none for an unknown practice."""
        return self._claims_of.get(practice or "", [])

    def letters_of(self, practice: str | None) -> list[Letter]:
        """The letters on the portal now for one practice, newest first."""
        return [letter for letter in self.visible_letters() if letter.practice == practice]

    def authorizations_of(self, practice: str | None) -> list[Authorization]:
        """The authorizations one practice's logins see."""
        return [auth for auth in self.authorizations if auth.practice == practice]

    def inventory_rows(self) -> list[dict[str, str]]:
        """The claims inventory a practice management system would export for this payer."""
        rows = []
        for c in self.claims:
            rows.append({
                "claim_number": c.claim_number,
                "payer_id": self.profile.payer_id,
                "payer_name": self.profile.name,
                "member_id": c.member.member_id,
                "patient_last_name": c.member.last_name,
                "patient_first_name": c.member.first_name,
                "patient_dob": c.member.dob.isoformat(),
                "date_of_service": c.date_of_service.isoformat(),
                "submitted_date": c.submitted_date.isoformat(),
                "billed_amount": f"{c.total('billed'):.2f}",
                "expected_amount": f"{c.expected_amount:.2f}",
                "payer_claim_number": c.payer_claim_number if c.inventory_has_icn else "",
                "procedure_codes": ";".join(line.procedure_code for line in c.lines),
                "units": ";".join(str(line.units) for line in c.lines),
                "auth_number": c.auth_number or "",
                "provider_npi": c.provider_npi,
                **({"practice": c.practice} if self.several_practices else {}),
            })
        return rows

    def oracle(self) -> dict:
        """What a perfect bot finds on this portal right now, in canonical terms (JSON-ready)."""
        claims = {}
        for c in self.claims:
            claims[c.claim_number] = {
                "on_file": c.on_file,
                "status_category": c.status_category,
                "unmapped_wording": c.outcome == "unlisted_wording",
                "finalized": c.finalized,
                "payer_claim_number": c.payer_claim_number,
                "reference_number": c.payer_claim_number or c.search_reference,
                "billed": str(c.total("billed")) if c.on_file else None,
                "allowed": str(c.total("allowed")) if c.adjudication_date else None,
                "paid": str(c.total("paid")) if c.adjudication_date else None,
                "patient_responsibility": str(c.total("patient_responsibility")) if c.adjudication_date else None,
                "expected_amount": str(c.expected_amount),
                "adjudication_date": _iso(c.adjudication_date),
                "payment_method": c.payment_method,
                "check_number": c.check_number,
                "payment_date": _iso(c.payment_date),
                "pending_reason": c.pending_reason,
                "crossover_payer": c.crossover_payer,
                "carc_codes": _unique(carc for line in c.lines for (_g, carc, _a) in line.adjustments)
                if c.adjudication_date else [],
                "rarc_codes": _unique(r for line in c.lines for r in line.rarc_codes),
                "adjustments": [[g, carc, str(a)] for line in c.lines for (g, carc, a) in line.adjustments],
                "auth_number": c.auth_number,
                "date_of_service": c.date_of_service.isoformat(),
                "procedure_codes": [line.procedure_code for line in c.lines],
                "units": [line.units for line in c.lines],
            }
            if self.several_practices:
                claims[c.claim_number]["practice"] = c.practice
        letters = [{
            "letter_id": letter.letter_id, "type": letter.letter_type, "letter_date": letter.letter_date.isoformat(),
            "claim_number": letter.claim_number, "payer_claim_number": letter.payer_claim_number,
            "reference_number": letter.reference_number, "due_date": _iso(letter.due_date),
            "file_name": letter.file_name,
            **({"practice": letter.practice} if self.several_practices else {}),
        } for letter in self.visible_letters()]
        auths = [{
            "auth_number": a.auth_number, "member_id": a.member.member_id, "service": a.service,
            "procedure_codes": a.procedure_codes, "provider": a.provider, "facility": a.facility,
            "status": a.status, "approved_units": a.approved_units, "used_units": a.used_units,
            "requested_date": a.requested_date.isoformat(), "start_date": _iso(a.start_date),
            "end_date": _iso(a.end_date),
            **({"practice": a.practice} if self.several_practices else {}),
        } for a in self.authorizations]
        from sandbox.edi.kinds import coverage  # the EDI writer reads this world: imported late, not circular

        return {"payer_id": self.profile.payer_id, "payer_name": self.profile.name, "today": self.today.isoformat(),
                "appeal_window_days": self.profile.appeal_window_days, "claims": claims, "letters": letters,
                "authorizations": auths, "edi": coverage(self)}  # claim numbers each X12 file kind carries

    def inventory_csv(self) -> str:
        """The inventory rows as CSV text."""
        return rows_to_csv(self.inventory_rows())

    def as_dict(self) -> dict:
        return asdict(self.profile)


def search_reference(payer_id: str, member_id: str, date_of_service: date) -> str:
    """The inquiry reference a portal prints for a member + date-of-service search (same search, same number)."""
    digest = hashlib.sha256(f"{payer_id}|{member_id}|{date_of_service.isoformat()}".encode()).hexdigest()
    return f"SR{int(digest[:12], 16) % 10**8:08d}"


def claim_number_reference(payer_id: str, payer_claim_number: str) -> str:
    """The inquiry reference a portal prints for a search by claim number."""
    digest = hashlib.sha256(f"{payer_id}|{payer_claim_number}".encode()).hexdigest()
    return f"SR{int(digest[:12], 16) % 10**8:08d}"


def rows_to_csv(rows: list[dict[str, str]]) -> str:
    """CSV text with a header from the first row's keys."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _unique(values) -> list[str]:
    seen: list[str] = []
    for value in values:
        if value not in seen:
            seen.append(value)
    return seen
