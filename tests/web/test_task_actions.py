"""Task actions over HTTP: bad input is refused with a clear message and changes nothing."""

from __future__ import annotations

from datetime import timedelta

from tests.web.conftest import TODAY, Web, csrf_of, pdf_bytes


def _flash(client, response) -> str:
    assert response.status_code == 303, response.text
    page = client.get(response.headers["location"])
    return page.text.split('id="flash">', 1)[1].split("</div>", 1)[0]


def test_a_non_pdf_is_refused_and_nothing_is_stored(web: Web):
    task = web.ids["records_request"]
    with web.client("dana") as client:
        csrf = csrf_of(client, f"/tasks/{task}")
        response = client.post(f"/tasks/{task}/packets?csrf={csrf}",
                               files={"packet": ("records.pdf", b"<html>not a pdf</html>", "application/pdf")})
        assert "is not a PDF file" in _flash(client, response)
        wrong_kind = client.post(f"/tasks/{web.ids['denial_review']}/packets?csrf={csrf}",
                                 files={"packet": ("r.pdf", pdf_bytes("records"), "application/pdf")})
        assert "records packets go on records request tasks" in _flash(client, wrong_kind)
        queued = client.post(f"/tasks/{task}/queue?csrf={csrf}")
        assert "attach a PDF first" in _flash(client, queued)
    assert web.packets() == [] and not any((web.home / "packets").glob("*"))


def test_snooze_needs_a_future_day_and_wakes_up_on_request(web: Web):
    task = web.ids["denial_review"]
    with web.client("dana") as client:
        csrf = csrf_of(client, f"/tasks/{task}")
        for until, message in ((TODAY.isoformat(), "a day after today"), ("02/30/2026", "as a date"),
                               ("", "Choose the day")):
            response = client.post(f"/tasks/{task}/snooze?csrf={csrf}", data={"until": until})
            assert message in _flash(client, response), until
        assert web.task("denial_review").snoozed_until is None
        later = (TODAY + timedelta(days=3)).isoformat()
        client.post(f"/tasks/{task}/snooze?csrf={csrf}", data={"until": later})
        assert web.task("denial_review").snoozed_until.isoformat() == later
        assert f'data-task-id="{task}"' not in client.get("/?scope=mine").text
        assert f'data-task-id="{task}"' in client.get("/?scope=mine&snoozed=only").text
        woken = client.post(f"/tasks/{task}/snooze?csrf={csrf}", data={"wake": "1"})
        assert "back in the worklist" in _flash(client, woken)
        assert web.task("denial_review").snoozed_until is None
        empty = client.post(f"/tasks/{task}/notes?csrf={csrf}", data={"note": "   "})
        assert "Write the note first" in _flash(client, empty)
        closing = client.post(f"/tasks/{task}/status?csrf={csrf}", data={"status": "done"})
        assert "Add a note" in _flash(client, closing)
        taken = client.post(f"/tasks/{web.ids['claim_not_found']}/take?csrf={csrf}")
        assert "taken: bea → dana" in _flash(client, taken)
        assert client.get("/tasks/99999").status_code == 404
    assert web.task("denial_review").status == "open" and web.task("claim_not_found").owner == "dana"
    notes = [h for h in web.history("denial_review") if h.action == "note"]
    assert notes == []
