"""Store a downloaded letter once, under a name we build, and link it to its claim or authorization."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from sqlmodel import Session, select

from bots.evidence import to_stored
from bots.files import copy_private
from bots.findings import CorrespondenceFinding
from workqueue.letters import LetterFacts, pdf_text, read_letter, wording_for_payer
from workqueue.models import Claim, Document
from workqueue.paths import documents_dir, downloads_dir
from workqueue.practice_rows import account_practice


def slug(name: str, *, limit: int = 60) -> str:
    """A file-name-safe slug of an untrusted name: 'Denial_Notice (1).pdf' -> 'denial-notice-1'."""
    stem = Path(name.replace("\\", "/")).name
    stem = re.sub(r"\.[A-Za-z0-9]{1,5}$", "", stem)
    text = re.sub(r"[^a-z0-9]+", "-", stem.casefold()).strip("-")
    return text[:limit].rstrip("-") or "letter"


def safe_name(payer_id: str, sha256: str, original: str) -> Path:
    """documents/<payer>/<sha256[:16]>-<slug>.pdf: never the portal's name as a path."""
    return Path(slug(payer_id, limit=40)) / f"{sha256[:16]}-{slug(original)}.pdf"


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def known_document(session: Session, payer_id: str, portal_document_id: str, sha256: str) -> Document | None:
    """The stored letter with this content or this portal id, if any."""
    return session.exec(select(Document).where(
        (Document.sha256 == sha256)
        | ((Document.payer_id == payer_id) & (Document.portal_document_id == portal_document_id))
    )).first()


def find_claim(session: Session, payer_id: str, facts: LetterFacts, practice: str | None = None) -> Claim | None:
    """The claim a letter is about: by patient account (our number), else by the payer's claim number.

    With `practice`, only that practice's claims: a letter read through one practice's account is never
    attached to another practice's claim, whatever numbers it quotes (a practice boundary).
    """
    if facts.patient_account:
        claim = session.get(Claim, facts.patient_account)
        if claim is not None and claim.payer_id == payer_id and practice in (None, claim.practice):
            return claim
    if facts.payer_claim_number:
        query = select(Claim).where(Claim.payer_id == payer_id, Claim.payer_claim_number == facts.payer_claim_number)
        if practice is not None:
            query = query.where(Claim.practice == practice)
        return session.exec(query).first()
    return None


def discard_download(path: Path | str) -> bool:
    """Remove the browser's copy of a download once the letter is stored (only under downloads/)."""
    path = Path(path)
    try:
        inside = path.resolve().is_relative_to(downloads_dir().resolve())
    except (OSError, RuntimeError):
        return False
    if not inside or not path.is_file():
        return False
    path.unlink(missing_ok=True)
    return True


def store_letter(session: Session, finding: CorrespondenceFinding
                 ) -> tuple[Document, LetterFacts, Claim | None] | None:
    """Copy the download into the documents folder (0600), read it, link it; None if these bytes are known.

    Either way the browser's copy under downloads/ is removed: a letter is kept on disk once.
    """
    prov = finding.provenance
    wording = wording_for_payer(prov.payer_id)  # a broken letters.toml fails here, before the download is touched
    source = Path(finding.file_path)
    sha = file_sha256(source)
    if known_document(session, prov.payer_id, finding.portal_document_id, sha) is not None:
        discard_download(source)
        return None
    relative = safe_name(prov.payer_id, sha, finding.suggested_file_name)
    target = documents_dir() / relative
    if not target.is_file() or file_sha256(target) != sha:  # missing, or damaged since: write it (again)
        copy_private(source, target)
    discard_download(source)
    text = pdf_text(target)
    facts = read_letter(text, finding.title, wording)
    practice = account_practice(session, prov.payer_id, prov.account)  # letters belong to the account's practice
    claim = find_claim(session, prov.payer_id, facts, practice)
    if claim is not None and not claim.payer_claim_number and facts.payer_claim_number:
        claim.payer_claim_number = facts.payer_claim_number
        session.add(claim)
    reference = facts.document_control_number or facts.auth_number or facts.payer_claim_number
    document = Document(
        sha256=sha, payer_id=prov.payer_id, practice=practice, portal_document_id=finding.portal_document_id,
        title=finding.title,
        letter_date=finding.letter_date, stored_path=to_stored(target), original_file_name=finding.suggested_file_name,
        text=text, doc_type=facts.doc_type, claim_number=claim.claim_number if claim else None,
        payer_claim_number=facts.payer_claim_number, reference_number=reference, auth_number=facts.auth_number,
        due_date=facts.due_date, observed_at=prov.observed_at, url=prov.url,
    )
    session.add(document)
    session.flush()
    return document, facts, claim
