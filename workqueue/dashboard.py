"""The manager's dashboard: which payer makes the most manual work, which denials keep coming back."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import case
from sqlmodel import Session, col, func, select

from workqueue.models import ACTIVE_STATUSES, BotRun, Claim, PortalAccount, StatusFinding, Task, TaskHistory
from workqueue.practices import Practices, visible

CLOSED_STATUSES = ("done", "cancelled")
AGEING_BUCKETS = (("0–30", 30), ("31–60", 60), ("61–90", 90), ("91–120", 120), ("over 120", None))
NO_DATE = "no date"
TOP_DENIALS = 10
_CHUNK = 500  # IN lists stay well under every database's parameter limit

# The project keeps no CARC list yet (bots/codes holds only the claim status categories): the common codes'
# meaning in short, so the dashboard can say what a code is; any other code shows without a description.
CARC_DESCRIPTIONS = {
    "1": "Deductible amount", "2": "Coinsurance amount", "3": "Co-payment amount",
    "16": "Claim lacks information or has billing errors", "18": "Exact duplicate claim/service",
    "22": "May be covered by another payer (coordination of benefits)",
    "27": "Expenses incurred after coverage terminated", "29": "The time limit for filing has expired",
    "45": "Charge exceeds fee schedule/maximum allowable", "50": "Not deemed a medical necessity",
    "96": "Non-covered charge(s)", "97": "Included in the payment for another service (bundled)",
    "109": "Not covered by this payer", "197": "Precertification/authorization absent",
    "204": "Not covered under the patient's current benefit plan",
}


def carc_description(code: str) -> str | None:
    """A CARC's short meaning, or None when the project does not know the code."""
    return CARC_DESCRIPTIONS.get(code)


@dataclass(frozen=True)
class PayerKinds:
    """Open tasks of one payer, in total and by task kind."""

    payer: str
    total: int
    by_kind: dict[str, int]


@dataclass(frozen=True)
class AgeingBucket:
    """Claims still in inventory and not finalized, by days since submission (else date of service)."""

    bucket: str
    claims: int
    billed: Decimal


@dataclass(frozen=True)
class Denial:
    """One CARC on claims' current findings: dollars at stake, claims, how often it came back."""

    code: str
    description: str | None
    claims: int
    dollars: Decimal
    nights_seen: int


@dataclass(frozen=True)
class RecordsCount:
    """records_request tasks of one payer."""

    payer: str
    open: int
    total: int


@dataclass(frozen=True)
class DayCount:
    """Tasks created and closed on one UTC day."""

    day: date
    opened: int
    closed: int


@dataclass(frozen=True)
class NightPayer:
    """One payer on one night of bot runs."""

    night: date
    payer: str
    runs: int
    claims_ok: int
    claims_failed: int
    share: float | None  # claims_ok / (claims_ok + claims_failed); 0.0 for a failed payer with no answers
    errors: int
    error_types: list[str]
    skipped: int


@dataclass(frozen=True)
class Dashboard:
    """Everything the dashboard page shows, as plain values."""

    today: date
    kinds: list[str]
    open_by_payer_kind: list[PayerKinds]
    ageing: list[AgeingBucket]
    top_denials: list[Denial]
    records_by_payer: list[RecordsCount]
    opened_closed_per_day: list[DayCount]
    bot_success: list[NightPayer]
    nights: list[date] = field(default_factory=list)  # oldest first
    payers_run: list[str] = field(default_factory=list)

    @property
    def most_manual_work(self) -> PayerKinds | None:
        """The payer with the most open tasks."""
        return self.open_by_payer_kind[0] if self.open_by_payer_kind else None

    @property
    def most_repeated_denial(self) -> Denial | None:
        """The denial on the most claims (then the most nights, then the most dollars)."""
        if not self.top_denials:
            return None
        return sorted(self.top_denials, key=lambda d: (-d.claims, -d.nights_seen, -d.dollars, d.code))[0]

    def as_dict(self) -> dict:
        """JSON-ready: dates as ISO strings, dollars as '1234.50'; with the two answers."""
        work, denial = self.most_manual_work, self.most_repeated_denial
        return _plain({**asdict(self), "most_manual_work": asdict(work) if work else None,
                       "most_repeated_denial": asdict(denial) if denial else None})


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def _decimal(value: Any) -> Decimal:
    if value is None or value == "":
        return Decimal("0.00")
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return Decimal("0.00")


def _chunks(items: list) -> list[list]:
    return [items[i:i + _CHUNK] for i in range(0, len(items), _CHUNK)]


def _utc_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


# -- open tasks ------------------------------------------------------------------------------------------

def _claims_of(practices: Practices) -> Any:
    """The claim numbers of these practices, as a subquery (only used when practices is not None)."""
    return select(Claim.claim_number).where(visible(Claim.practice, practices))


def open_by_payer_kind(session: Session, practices: Practices = None) -> tuple[list[str], list[PayerKinds]]:
    """(kinds by open count, payers by open count) over tasks whose status is active."""
    rows = session.exec(select(Task.payer_id, Task.kind, func.count()).where(col(Task.status).in_(ACTIVE_STATUSES),
                                                                             visible(Task.practice, practices))
                        .group_by(Task.payer_id, Task.kind)).all()
    by_payer: dict[str, dict[str, int]] = defaultdict(dict)
    kind_totals: dict[str, int] = defaultdict(int)
    for payer, kind, count in rows:
        by_payer[payer][kind] = count
        kind_totals[kind] += count
    kinds = sorted(kind_totals, key=lambda k: (-kind_totals[k], k))
    payers = [PayerKinds(payer, sum(kinds_.values()), {k: kinds_[k] for k in kinds if k in kinds_})
              for payer, kinds_ in by_payer.items()]
    return kinds, sorted(payers, key=lambda p: (-p.total, p.payer))


# -- A/R ageing ------------------------------------------------------------------------------------------

def ageing(session: Session, today: date, practices: Practices = None) -> list[AgeingBucket]:
    """Claims in inventory and not finalized by days from submitted date (else date of service) to today.

    A date after today counts as 0 days. Dollars are summed here, not in SQL: SQLite keeps money as exact text.
    """
    rows = session.exec(select(Claim.submitted_date, Claim.date_of_service, Claim.billed_amount)
                        .where(col(Claim.finalized).is_(False), col(Claim.in_inventory).is_(True),
                               visible(Claim.practice, practices))).all()
    counts: dict[str, int] = defaultdict(int)
    dollars: dict[str, Decimal] = defaultdict(lambda: Decimal("0.00"))
    for submitted, served, billed in rows:
        start = submitted or served
        if start is None:
            name = NO_DATE
        else:
            days = max((today - start).days, 0)
            name = next(n for n, limit in AGEING_BUCKETS if limit is None or days <= limit)
        counts[name] += 1
        dollars[name] += _decimal(billed)
    names = [n for n, _ in AGEING_BUCKETS] + ([NO_DATE] if counts.get(NO_DATE) else [])
    return [AgeingBucket(n, counts.get(n, 0), dollars[n] if n in dollars else Decimal("0.00")) for n in names]


# -- denials ---------------------------------------------------------------------------------------------

def finding_carcs(finding: dict) -> dict[str, Decimal]:
    """CARC -> adjustment dollars of one stored ClaimStatusFinding dict (a code without an amount: $0).

    Claim-level `adjustments` are the lines' adjustments unless the adapter gave its own, so they are used
    when present and the lines' only when the claim has none (never both: that would count twice). Codes
    listed in `carc_codes` (claim or line) without an adjustment count with $0.
    """
    codes: dict[str, Decimal] = {}
    adjustments = list(finding.get("adjustments") or [])
    if not adjustments:
        adjustments = [a for line in finding.get("service_lines") or [] for a in line.get("adjustments") or []]
    for adj in adjustments:
        if isinstance(adj, dict):
            carc, amount = adj.get("carc"), adj.get("amount")
        elif isinstance(adj, list | tuple) and len(adj) >= 2:  # [group, carc, amount]
            carc, amount = adj[1], adj[2] if len(adj) > 2 else None
        else:
            continue
        if carc:
            codes[str(carc)] = codes.get(str(carc), Decimal("0.00")) + _decimal(amount)
    listed = list(finding.get("carc_codes") or [])
    listed += [c for line in finding.get("service_lines") or [] for c in line.get("carc_codes") or []]
    for code in listed:
        codes.setdefault(str(code), Decimal("0.00"))
    return codes


def _current_findings(session: Session, practices: Practices = None) -> dict[str, dict]:
    """claim number -> its current finding dict: the latest observed (the highest id among equal times)."""
    latest = select(StatusFinding.claim_number, func.max(StatusFinding.observed_at).label("at"))
    if practices is not None:
        latest = latest.where(col(StatusFinding.claim_number).in_(_claims_of(practices)))
    latest = latest.group_by(StatusFinding.claim_number).subquery()
    rows = session.exec(select(StatusFinding.id, StatusFinding.claim_number, StatusFinding.finding)
                        .join(latest, (col(StatusFinding.claim_number) == latest.c.claim_number)
                              & (col(StatusFinding.observed_at) == latest.c.at))
                        .order_by(col(StatusFinding.id))).all()
    return {claim: finding or {} for _id, claim, finding in rows}  # ordered by id: the highest id wins


def top_denials(session: Session, limit: int = TOP_DENIALS, practices: Practices = None) -> list[Denial]:
    """The CARCs on claims' current findings, by dollars at stake; what counts:

    - claims: distinct claims whose current (latest observed) finding carries the code, finalized or not;
    - dollars: the sum of those findings' adjustment amounts with that code (no amount: $0);
    - nights_seen: distinct UTC dates on which a stored finding of those same claims carried the code.
      Identical answers are not stored again, so this counts the times the denial came back (first seen,
      then again after any change such as a resubmission), not the nights it was merely re-read.
    """
    current = _current_findings(session, practices)
    claims: dict[str, set[str]] = defaultdict(set)
    dollars: dict[str, Decimal] = defaultdict(lambda: Decimal("0.00"))
    for claim, finding in current.items():
        for code, amount in finding_carcs(finding).items():
            claims[code].add(claim)
            dollars[code] += amount
    ranked = sorted(claims, key=lambda c: (-dollars[c], -len(claims[c]), c))[:limit]
    if not ranked:
        return []
    wanted = sorted({claim for code in ranked for claim in claims[code]})
    nights: dict[str, set[date]] = defaultdict(set)
    for chunk in _chunks(wanted):
        rows = session.exec(select(StatusFinding.claim_number, StatusFinding.observed_at, StatusFinding.finding)
                            .where(col(StatusFinding.claim_number).in_(chunk))).all()
        for claim, observed, finding in rows:
            for code in finding_carcs(finding or {}):
                if code in claims and claim in claims[code]:
                    nights[code].add(observed.astimezone(UTC).date())
    return [Denial(code, carc_description(code), len(claims[code]), dollars[code], len(nights[code]))
            for code in ranked]


# -- records requests ------------------------------------------------------------------------------------

def records_by_payer(session: Session, practices: Practices = None) -> list[RecordsCount]:
    """records_request tasks per payer: open (active status) and total; most open first."""
    open_ = func.sum(case((col(Task.status).in_(ACTIVE_STATUSES), 1), else_=0))
    rows = session.exec(select(Task.payer_id, open_, func.count()).where(Task.kind == "records_request",
                                                                         visible(Task.practice, practices))
                        .group_by(Task.payer_id)).all()
    out = [RecordsCount(payer, int(opened or 0), int(total)) for payer, opened, total in rows]
    return sorted(out, key=lambda r: (-r.open, -r.total, r.payer))


# -- opened and closed per day ---------------------------------------------------------------------------

def opened_closed_per_day(session: Session, today: date, days: int, practices: Practices = None) -> list[DayCount]:
    """Per UTC day of the last `days` ending today: tasks created, and tasks closed.

    Closed: distinct tasks with a history row changing `status` to done or cancelled that day (a task
    closed, reopened and closed again on one day counts once that day).
    """
    first = today - timedelta(days=max(days, 1) - 1)
    start, end = _utc_midnight(first), _utc_midnight(today + timedelta(days=1))
    opened: dict[date, int] = defaultdict(int)
    for created in session.exec(select(Task.created_at).where(col(Task.created_at) >= start,
                                                                 col(Task.created_at) < end,
                                                                 visible(Task.practice, practices))).all():
        opened[created.astimezone(UTC).date()] += 1
    closed: dict[date, set[int]] = defaultdict(set)
    closing = select(TaskHistory.task_id, TaskHistory.at).where(
        TaskHistory.field == "status", col(TaskHistory.new).in_(CLOSED_STATUSES),
        col(TaskHistory.at) >= start, col(TaskHistory.at) < end)
    if practices is not None:
        closing = closing.where(col(TaskHistory.task_id).in_(select(Task.id).where(visible(Task.practice, practices))))
    rows = session.exec(closing).all()
    for task_id, at in rows:
        closed[at.astimezone(UTC).date()].add(task_id)
    span = [first + timedelta(days=n) for n in range((today - first).days + 1)]
    return [DayCount(day, opened.get(day, 0), len(closed.get(day, ()))) for day in span]


# -- bot success -----------------------------------------------------------------------------------------

def bot_success(session: Session, nights: int, practices: Practices = None) -> tuple[list[date], list[NightPayer]]:
    """Per (night, payer) over the latest `nights` UTC start dates of bot runs; what counts:

    BotRun.counts holds the run's totals, and (runs since the web dashboard) counts["by_payer"] the claims each
    payer's accounts checked; BotRun.errors has one entry per account that stopped ({payer_id, account, error}):
    - claims_ok: the run's own claims_checked for the payer when recorded; else distinct claims of the payer
      with a finding stored by one of the night's runs (run_id). Identical answers are not stored again, so
      for older runs a claim re-read unchanged is not counted: a lower bound;
    - claims_failed: distinct claims named in the night's `portal_problem` task evidence (run_id) that got
      no stored answer that night;
    - errors / error_types: the payer's entries in the night's BotRun.errors; skipped: its accounts in
      counts["skipped"] (held by another run);
    - share: claims_ok / (claims_ok + claims_failed); 0.0 when nothing was checked and an account stopped;
      None when the night says nothing either way.

    With `practices` (a person who sees only some practices) only their accounts' errors and skips and their
    claims' findings count; the runs' own per-payer counts cover every practice, so they are not used and
    claims_ok is the stored-findings floor.
    """
    mine: set[tuple[str, str]] | None = None
    if practices is not None:
        mine = {(p, a) for p, a in session.exec(select(PortalAccount.payer_id, PortalAccount.account)
                                                .where(visible(PortalAccount.practice, practices))).all()}
    stamps = session.exec(select(BotRun.id, BotRun.started_at).order_by(col(BotRun.started_at).desc(),
                                                                        col(BotRun.id).desc())).all()
    night_of: dict[int, date] = {}
    picked: list[date] = []
    for run_id, started in stamps:
        night = started.astimezone(UTC).date()
        if night not in picked:
            if len(picked) >= nights:
                break
            picked.append(night)
        night_of[run_id] = night
    if not night_of:
        return [], []
    runs = [r for chunk in _chunks(sorted(night_of))
            for r in session.exec(select(BotRun).where(col(BotRun.id).in_(chunk))).all()]
    payers: dict[tuple[date, str], dict] = {}

    def row(night: date, payer: str) -> dict:
        return payers.setdefault((night, payer), {"runs": set(), "ok": set(), "failed": set(), "errors": [],
                                                  "skipped": 0, "checked": 0})

    for run in runs:
        night = night_of[run.id]
        for payer in run.payers or []:
            row(night, str(payer))["runs"].add(run.id)
        for error in run.errors or []:
            if isinstance(error, dict) and error.get("payer_id") and (
                    mine is None or (str(error["payer_id"]), str(error.get("account"))) in mine):
                entry = row(night, str(error["payer_id"]))
                entry["runs"].add(run.id)
                entry["errors"].append(str(error.get("error") or "error"))
        by_payer = (run.counts or {}).get("by_payer") if mine is None else None
        for payer, figures in (by_payer if isinstance(by_payer, dict) else {}).items():
            entry = row(night, str(payer))
            entry["runs"].add(run.id)
            entry["checked"] += int((figures or {}).get("claims_checked") or 0)
        skipped = (run.counts or {}).get("skipped")
        for key in skipped if isinstance(skipped, dict) else {}:
            if not _skip_visible(str(key), mine, practices):
                continue
            entry = row(night, str(key).partition("/")[0].partition("@")[0])
            entry["runs"].add(run.id)
            entry["skipped"] += 1
    ids = sorted(night_of)
    for chunk in _chunks(ids):
        found = select(StatusFinding.run_id, StatusFinding.payer_id, StatusFinding.claim_number).where(
            col(StatusFinding.run_id).in_(chunk))
        if practices is not None:
            found = found.where(col(StatusFinding.claim_number).in_(_claims_of(practices)))
        rows = session.exec(found.distinct()).all()
        for run_id, payer, claim in rows:
            entry = row(night_of[run_id], payer)
            entry["runs"].add(run_id)
            entry["ok"].add(claim)
    since = min(run.started_at for run in runs)
    for payer, evidence in session.exec(select(Task.payer_id, Task.evidence)
                                        .where(col(Task.updated_at) >= since,
                                               visible(Task.practice, practices))).all():
        for item in evidence or []:
            if not isinstance(item, dict) or item.get("source") != "portal_problem":
                continue
            run_id, claim = item.get("run_id"), item.get("claim_number")
            if run_id in night_of and claim:
                entry = row(night_of[run_id], payer)
                entry["runs"].add(run_id)
                entry["failed"].add(claim)
    out = []
    for (night, payer), e in payers.items():
        failed = e["failed"] - e["ok"]
        ok = max(len(e["ok"]), e["checked"])  # the run's own count (newer runs) is exact; stored findings a floor
        checked = ok + len(failed)
        share = ok / checked if checked else (0.0 if e["errors"] else None)
        out.append(NightPayer(night, payer, len(e["runs"]), ok, len(failed), share, len(e["errors"]),
                              sorted(set(e["errors"])), e["skipped"]))
    out.sort(key=lambda r: (r.night, r.payer))
    return sorted(picked), out


def _skip_visible(key: str, mine: set[tuple[str, str]] | None, practices: Practices) -> bool:
    """Whether a run's skipped entry ('payer', 'payer/account', 'payer@practice') is one this viewer may see."""
    if mine is None:
        return True
    payer, slash, account = key.partition("/")
    if slash:
        return (payer, account) in mine
    _payer, at, practice = key.partition("@")
    return not at or practices is None or practice in practices


def dashboard_data(session: Session, today: date, *, days: int = 14, nights: int = 14,
                   practices: Practices = None) -> Dashboard:
    """Everything on the manager's dashboard, as of `today` (UTC dates), over `practices` (None: every one)."""
    kinds, by_payer = open_by_payer_kind(session, practices)
    night_list, success = bot_success(session, nights, practices)
    return Dashboard(today=today, kinds=kinds, open_by_payer_kind=by_payer, ageing=ageing(session, today, practices),
                     top_denials=top_denials(session, practices=practices),
                     records_by_payer=records_by_payer(session, practices),
                     opened_closed_per_day=opened_closed_per_day(session, today, days, practices), bot_success=success,
                     nights=night_list, payers_run=sorted({r.payer for r in success}))
