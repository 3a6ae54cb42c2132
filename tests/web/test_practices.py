"""Two practices in one web app: a user of one practice gets none of the other's tasks, claims, files or numbers."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

from bots.evidence import to_stored
from tests.web.conftest import TODAY, Web, pdf_bytes
from workqueue.db import session_scope
from workqueue.models import Claim, Document, Task
from workqueue.users import add_user

PASSWORD = "synthetic-password-1"


def _lakeview(web: Web) -> dict[str, int]:
    """A lakeview claim (same payer as the seeded default practice), its task and its letter; a lakeview biller."""
    letter = web.home / "documents" / "meridian" / "lakeview-letter.pdf"
    letter.write_bytes(pdf_bytes("Lakeview letter (synthetic)"))
    with session_scope(web.engine) as s:
        s.add(Claim(claim_number="LV900", payer_id="meridian", practice="lakeview", member_id="LVM900",
                    patient_last_name="Lakeside", date_of_service=TODAY - timedelta(days=40)))
        task = Task(kind="auth_units_low", payer_id="meridian", practice="lakeview", claim_number="LV900",
                    title="Lakeview units low", owner="lena", deadline=TODAY, dedupe_key="auth_units_low:lv",
                    reference_number="LVREF-1")
        document = Document(payer_id="meridian", practice="lakeview", portal_document_id="LV-L1", title="LV letter",
                            stored_path=to_stored(letter, web.home), original_file_name="lv.pdf",
                            claim_number="LV900", sha256=hashlib.sha256(letter.read_bytes()).hexdigest())
        s.add_all([task, document])
        add_user(s, "lena", "biller", PASSWORD, practices=["lakeview"])
        s.flush()
        return {"task": task.id, "document": document.id}


def test_a_user_of_one_practice_gets_nothing_of_the_other(web: Web):
    ids = _lakeview(web)
    with web.client("dana") as dana:  # no practices listed: the default practice only
        for path in ("/?scope=all", "/?scope=all&q=LV", "/claims?q=LV9", "/claims?q=Lakes", "/dashboard",
                     "/exports/tasks.csv", "/exports/claims.csv", "/exports/tasks.json", "/exports/claims.json"):
            response = dana.get(path)
            assert response.status_code == 200, path
            for secret in ("LV900", "LVREF-1", "Lakeside", "auth units low", "auth_units_low"):
                assert secret not in response.text, (path, secret)
        assert dana.get(f"/tasks/{ids['task']}").status_code == 404  # as a missing task, not a 403
        assert dana.get(f"/tasks/{ids['task']}").text == dana.get("/tasks/999999").text.replace("999999",
                                                                                                str(ids["task"]))
        assert dana.get("/claims/LV900").status_code == 404
        missing = dana.get("/claims/LV900/documents/999999")
        hidden = dana.get(f"/claims/LV900/documents/{ids['document']}")
        assert (hidden.status_code, hidden.text) == (missing.status_code, missing.text) == (404, "Not found")
        assert dana.get(f"/tasks/{web.ids['letter']}").status_code == 200  # her own practice still works
        assert len(json.loads(dana.get("/exports/tasks.json").text)) > 0
    with web.client("lena") as lena:
        assert lena.get(f"/tasks/{ids['task']}").status_code == 200
        assert "LV900" in lena.get("/claims?q=Lakes").text and "LV900" in lena.get("/?scope=all&q=LV").text
        assert lena.get(f"/tasks/{web.ids['letter']}").status_code == 404
        assert lena.get(f"/claims/LV900/documents/{ids['document']}").status_code == 200
        assert [r["claim_number"] for r in json.loads(lena.get("/exports/claims.json").text)] == ["LV900"]
        assert [r["task_id"] for r in json.loads(lena.get("/exports/tasks.json").text)] == [ids["task"]]
        page = lena.get("/?scope=all").text
        assert "LV900" in page and "C100" not in page and "C200" not in page
        assert "auth units low" in lena.get("/dashboard").text and "C200" not in lena.get("/claims?q=C").text
    with web.client("ada") as ada:  # admins see every practice
        assert ada.get(f"/tasks/{ids['task']}").status_code == 200
        assert "auth units low" in ada.get("/dashboard").text
        assert {"LV900", "C100"} <= {r["claim_number"] for r in json.loads(ada.get("/exports/claims.json").text)}


def test_an_admin_sets_a_users_practices_and_they_apply_at_once(web: Web):
    from tests.web.conftest import csrf_of

    ids = _lakeview(web)
    with web.client("dana") as dana:
        assert dana.get(f"/tasks/{ids['task']}").status_code == 404
        with web.client("ada") as ada:
            token = csrf_of(ada, "/admin/users")
            done = ada.post(f"/admin/users/dana/practices?csrf={token}", data={"practices": "default, lakeview"})
            assert done.status_code == 303
            assert "default,lakeview" in ada.get("/admin/users").text
        assert dana.get(f"/tasks/{ids['task']}").status_code == 200  # her next page sees lakeview too
    assert web.audit(action="user_practices", object_id="dana")[0].detail == "default, lakeview"
