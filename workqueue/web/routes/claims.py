"""Claim lookup: search by claim number, payer claim number, member id or patient name; the claim page; its files."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import or_
from sqlmodel import col, select

from workqueue.claimview import claim_detail, search_claims
from workqueue.db import session_scope
from workqueue.models import Document, RecordsPacket, Task
from workqueue.practices import may_see, visible
from workqueue.web.files import file_response, servable
from workqueue.web.render import audit_in, audit_now, error_page, render, root
from workqueue.web.security import viewer_of
from workqueue.web.state import web

router = APIRouter()


@router.get("/claims", response_class=HTMLResponse)
def claims_page(request: Request, q: str = "") -> HTMLResponse:
    """The search form and its results."""
    state = web(request)
    viewer = viewer_of(request)
    q = q.strip()[:100]
    with session_scope(state.engine) as session:
        results = search_claims(session, q, practices=viewer.practices) if q else []
        if q:
            audit_in(session, viewer, action="view", object_type="claim_search", detail=f"{len(results)} result(s)")
    return render(request, "claims.html", title="Find a claim", q=q, results=results, searched=bool(q))


@router.get("/claims/{claim_number}", response_class=HTMLResponse)
def claim_page(request: Request, claim_number: str) -> HTMLResponse:
    """Current status, every finding, its tasks, documents and uploads."""
    state = web(request)
    viewer = viewer_of(request)
    with session_scope(state.engine) as session:
        detail = claim_detail(session, claim_number, viewer.practices)
        if detail is None:
            return error_page(request, 404, "No such claim", f"There is no claim {claim_number}.")
        audit_in(session, viewer, action="view", object_type="claim", object_id=claim_number)
    base = f"{root(request)}/claims/{claim_number}"
    return render(request, "claim.html", title=f"Claim {claim_number}", detail=detail,
                  task_href=f"{root(request)}/tasks", document_href=f"{base}/documents", packet_href=f"{base}/packets")


@router.get("/claims/{claim_number}/documents/{document_id}")
def document_file(request: Request, claim_number: str, document_id: int) -> Response:
    """A letter the bots downloaded for this claim."""
    state = web(request)
    practices = viewer_of(request).practices
    with session_scope(state.engine) as session:
        document = session.get(Document, document_id)
    mine = document is not None and document.claim_number == claim_number and may_see(document.practice, practices)
    path = servable(document.stored_path, state.home) if mine else None
    if path is not None:
        audit_now(request, "view", "letter", document_id, detail=f"claim {claim_number}")
    return file_response(path, download_name=document.original_file_name if path and document else None)


@router.get("/claims/{claim_number}/packets/{packet_id}")
def claim_packet_file(request: Request, claim_number: str, packet_id: str) -> Response:
    """A records packet for this claim (or one of its tasks)."""
    state = web(request)
    with session_scope(state.engine) as session:
        task_ids = select(Task.id).where(Task.claim_number == claim_number)
        packet = session.exec(select(RecordsPacket).where(
            RecordsPacket.packet_id == packet_id, visible(RecordsPacket.practice, viewer_of(request).practices),
            or_(RecordsPacket.claim_number == claim_number, col(RecordsPacket.task_id).in_(task_ids)))).first()
    path = servable(packet.stored_path, state.home) if packet else None
    if path is not None:
        audit_now(request, "view", "packet", packet_id, detail=f"claim {claim_number}")
    return file_response(path, download_name=packet.original_file_name if path and packet else None)
