"""Everything a real night writes is private from creation, each letter is on disk once, stored paths are relative."""

from __future__ import annotations

import hashlib
import os
import stat
from collections import Counter
from pathlib import Path

from sqlmodel import select

from bots.evidence import from_stored
from workqueue.models import Document, RecordsPacket, Task


def _modes(root: Path) -> tuple[dict[Path, int], dict[Path, int]]:
    dirs, files = {root: stat.S_IMODE(root.stat().st_mode)}, {}
    for folder, names, file_names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            dirs[path] = stat.S_IMODE(path.lstat().st_mode)
        for name in file_names:
            path = Path(folder) / name
            files[path] = stat.S_IMODE(path.lstat().st_mode)
    return dirs, files


def test_a_night_leaves_only_private_files_and_each_letter_once(night_factory, tmp_path: Path):
    previous = os.umask(0o022)  # a typical login umask: payerbot must not rely on the operator's
    try:
        night = night_factory(portals=["meridian"], claims=20)
        result = night.run()
    finally:
        os.umask(previous)
    assert result["accounts"], result
    secrets = Path(os.environ["PAYERBOT_SECRETS_DIR"])
    for root in (night.home, secrets):
        dirs, files = _modes(root)
        assert files, root
        loose_dirs = {str(p.relative_to(root)): oct(m) for p, m in dirs.items() if m != 0o700}
        loose_files = {str(p.relative_to(root)): oct(m) for p, m in files.items() if m != 0o600}
        assert loose_dirs == {} and loose_files == {}, root
    assert (secrets / "local.key").is_file() and (secrets / "credentials.enc").is_file()
    assert list((secrets / "sessions").glob("*.enc"))

    with night.db() as session:
        documents = list(session.exec(select(Document)))
        packets = list(session.exec(select(RecordsPacket)))
        tasks = list(session.exec(select(Task)))
    assert documents, "the night stored no letter"
    pdfs = Counter(hashlib.sha256(p.read_bytes()).hexdigest() for p in night.home.rglob("*.pdf"))
    assert pdfs == Counter({d.sha256: 1 for d in documents})  # every letter once, nothing else
    assert not [p for p in (night.home / "downloads").rglob("*") if p.is_file()]

    for stored in [d.stored_path for d in documents] + [p.stored_path for p in packets]:
        assert not Path(stored).is_absolute() and ".." not in Path(stored).parts, stored
        assert from_stored(stored).is_file()
    for task in tasks:
        for entry in task.evidence or []:
            if isinstance(entry, dict) and entry.get("document_path"):
                assert not Path(entry["document_path"]).is_absolute(), entry
                assert from_stored(entry["document_path"]).is_file()
