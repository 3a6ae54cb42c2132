"""pyx12's 005010 maps, with the one fix its 277 claim status (X212) map needs, in a per-process folder."""

from __future__ import annotations

import atexit
import functools
import re
import shutil
import tempfile
from importlib.resources import files
from pathlib import Path

_X212 = "277.5010.X212.xml"
# pyx12 4.0.0 ships a draft X212 map that its maps.xml does not list (only X214 for HN). Two faults keep
# its walker from reading a 277: loop 2000B has the same position (0100) as the 2000A HL it follows, so the
# first HL is "not found" (the X214 map has 2000B at 2000); and the trailer SE sits in a wrapper loop
# (TABLE2AREA3) closed outside ST_LOOP, so SE is "not found". Both are fixed in a copy made at run time
# from the installed package (nothing of pyx12 is vendored); a release that changed the map is used as is.
_X212_FIXES = (
    (re.compile(r'(<loop xid="2000B">.*?<pos>)0100(</pos>)', re.DOTALL), r"\g<1>2000\g<2>"),
    (re.compile(r'</loop>\s*<!--End of Table2 - Area2 loop-->\s*<loop xid="TABLE2AREA3" type="wrapper">.*?'
                r"<repeat></repeat>", re.DOTALL), ""),
)
_X214_ENTRY = '<map vriic="005010X214" fic="HN" abbr="277">277.5010.X214.xml</map>'
_X212_ENTRY = f'<map vriic="005010X212" fic="HN" abbr="277">{_X212}</map>'


def map_path() -> str:
    """A folder holding pyx12's maps (links to the installed ones) and the fixed X212 map and index."""
    folder = _map_folder()
    if not (folder / "maps.xml").is_file():  # a temp cleaner removed it in a long-running process
        _map_folder.cache_clear()
        folder = _map_folder()
    return str(folder)


@functools.cache
def _map_folder() -> Path:
    source = files("pyx12").joinpath("map")
    folder = Path(tempfile.mkdtemp(prefix="payerbot-pyx12-maps-"))
    atexit.register(shutil.rmtree, folder, True)
    for entry in source.iterdir():
        if entry.name.endswith((".xml", ".xsd")) and entry.name not in {_X212, "maps.xml"}:
            try:
                (folder / entry.name).symlink_to(Path(str(entry)))
            except OSError:  # no symbolic links here (some Windows set-ups): a copy does the same
                shutil.copyfile(Path(str(entry)), folder / entry.name)
    original = x212 = source.joinpath(_X212).read_text(encoding="utf-8")
    for pattern, replacement in _X212_FIXES:
        x212, count = pattern.subn(replacement, x212, count=1)
        if count != 1:
            x212 = original
            break
    (folder / _X212).write_text(x212, encoding="utf-8")
    index = source.joinpath("maps.xml").read_text(encoding="utf-8")
    if 'vriic="005010X212"' not in index and _X214_ENTRY in index:
        index = index.replace(_X214_ENTRY, f"{_X214_ENTRY}\n    {_X212_ENTRY}", 1)
    (folder / "maps.xml").write_text(index, encoding="utf-8")
    return folder
