"""Server-side SVG charts for the dashboard: escaped text, presentation attributes only, no script, no style."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from markupsafe import Markup, escape

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
INK = "#1b1f24"
MUTED = "#57606a"
FONT = 12
CHAR_W = 7.2  # a generous average glyph width at FONT px: label columns are sized from the text
ROW_H = 22
BAR_W = 360  # the longest bar's length
PAD = 8

Number = int | float | Decimal


def _attr(value: object) -> str:
    return str(escape(str(value)))


def _text_width(text: str) -> float:
    return len(text) * CHAR_W


def _fmt(value: Number) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _svg(width: float, height: float, label: str, body: list[str], cls: str) -> Markup:
    width, height = max(int(round(width)), 1), max(int(round(height)), 1)
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {_attr(cls)}" role="img" '
        f'aria-label="{_attr(label)}" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'font-size="{FONT}" font-family="system-ui, sans-serif">'
        f'<title>{_attr(label)}</title>{"".join(body)}</svg>')


def _text(x: float, y: float, content: object, *, anchor: str = "start", fill: str = INK, cls: str = "") -> str:
    klass = f' class="{_attr(cls)}"' if cls else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{_attr(anchor)}" fill="{_attr(fill)}"{klass}>'
            f'{_attr(content)}</text>')


def _rect(x: float, y: float, w: float, h: float, fill: str, *, cls: str = "", tip: str | None = None,
          stroke: str | None = None) -> str:
    klass = f' class="{_attr(cls)}"' if cls else ""
    klass += f' stroke="{_attr(stroke)}"' if stroke else ""
    title = f"<title>{_attr(tip)}</title>" if tip else ""
    return (f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{h:.1f}" fill="{_attr(fill)}"'
            f'{klass}>{title}</rect>')


def empty_chart(label: str, message: str = "No data yet") -> Markup:
    """A small SVG saying there is nothing to draw."""
    width = _text_width(message) + 2 * PAD
    return _svg(width, ROW_H + PAD, label, [_text(PAD, ROW_H - 6, message, fill=MUTED, cls="chart-empty")],
                "chart-empty")


def bar_chart(items: Sequence[tuple[str, Number] | tuple[str, Number, str | None]], *, label: str) -> Markup:
    """Horizontal bars: (label, value[, value label such as '$1,234.00']); bars scale to the largest value."""
    rows = [(str(i[0]), i[1] or 0, (i[2] if len(i) > 2 else None)) for i in items]
    if not rows:
        return empty_chart(label)
    top = max(max(v for _, v, _ in rows), 0)
    label_w = max(_text_width(name) for name, _, _ in rows) + PAD
    texts = [shown if shown is not None else _fmt(value) for _, value, shown in rows]
    value_w = max(_text_width(t) for t in texts) + PAD
    body = []
    for n, ((name, value, _), shown) in enumerate(zip(rows, texts, strict=True)):
        y = PAD + n * ROW_H
        length = max(float(value), 0.0) / float(top) * BAR_W if top else 0
        body.append(_text(label_w - 4, y + ROW_H - 8, name, anchor="end"))
        body.append(_rect(label_w, y + 3, length, ROW_H - 6, PALETTE[0], cls="bar", tip=f"{name}: {shown}"))
        body.append(_text(label_w + length + 4, y + ROW_H - 8, shown, cls="value"))
    return _svg(label_w + BAR_W + value_w + PAD, 2 * PAD + len(rows) * ROW_H, label, body, "chart-bars")


def _legend(names: Sequence[str], colours: Sequence[str], y: float, x0: float = PAD) -> tuple[list[str], float]:
    """Legend swatches on one line each row; returns (elements, height used)."""
    body, x, row = [], x0, 0
    width_limit = max(BAR_W + x0, 480)
    for name, colour in zip(names, colours, strict=True):
        w = 14 + 4 + _text_width(name) + 12
        if x + w > width_limit and x > x0:
            x, row = x0, row + 1
        top = y + row * ROW_H
        body.append(_rect(x, top + 5, 12, 12, colour, cls="swatch"))
        body.append(_text(x + 16, top + 15, name, cls="legend"))
        x += w
    return body, (row + 1) * ROW_H if names else 0


def stacked_bars(rows: Sequence[tuple[str, Mapping[str, int]]], kinds: Sequence[str], *, label: str,
                 kind_label=None) -> Markup:
    """Horizontal bars split by kind (payer x task kind), with a legend; `kind_label` words a kind."""
    rows = [(str(name), {k: int(v) for k, v in parts.items() if v}) for name, parts in rows]
    totals = [sum(parts.values()) for _, parts in rows]
    if not rows:
        return empty_chart(label)
    kinds = list(kinds) or sorted({k for _, parts in rows for k in parts})
    colours = [PALETTE[i % len(PALETTE)] for i in range(len(kinds))]
    words = [str(kind_label(k)) if kind_label else str(k) for k in kinds]
    legend, legend_h = _legend(words, colours, PAD)
    top = max(max(totals), 0)
    label_w = max(_text_width(name) for name, _ in rows) + PAD
    value_w = max(_text_width(str(t)) for t in totals) + PAD
    body = list(legend)
    y0 = PAD + legend_h
    for n, ((name, parts), total) in enumerate(zip(rows, totals, strict=True)):
        y = y0 + n * ROW_H
        body.append(_text(label_w - 4, y + ROW_H - 8, name, anchor="end"))
        x = float(label_w)
        for kind, word, colour in zip(kinds, words, colours, strict=True):
            count = parts.get(kind, 0)
            if not count:
                continue
            w = count / top * BAR_W if top else 0
            body.append(_rect(x, y + 3, w, ROW_H - 6, colour, cls="bar", tip=f"{name}, {word}: {count}"))
            x += w
        body.append(_text(x + 4, y + ROW_H - 8, total, cls="value"))
    width = max(label_w + BAR_W + value_w + PAD, 480 + 2 * PAD)
    return _svg(width, y0 + len(rows) * ROW_H + PAD, label, body, "chart-stacked")


def columns_chart(days: Sequence[tuple[str, int, int]], *, label: str,
                  series: tuple[str, str] = ("opened", "closed")) -> Markup:
    """Two columns per day (e.g. tasks opened vs closed), day labels below, a legend above."""
    days = [(str(d), int(a or 0), int(b or 0)) for d, a, b in days]
    if not days:
        return empty_chart(label)
    top = max(max(a, b) for _, a, b in days)
    colours = (PALETTE[1], PALETTE[0])
    legend, legend_h = _legend(list(series), list(colours), PAD)
    col_w, gap = 12, 10
    group_w = 2 * col_w + gap
    plot_h = 160
    axis_w = _text_width(str(top)) + PAD
    y_base = PAD + legend_h + 14 + plot_h
    label_h = max(_text_width(d) for d, _, _ in days) * 0.75 + 14  # day labels are drawn slanted
    body = list(legend)
    body.append(f'<line x1="{axis_w:.1f}" y1="{y_base:.1f}" x2="{axis_w + len(days) * group_w:.1f}" '
                f'y2="{y_base:.1f}" stroke="{MUTED}" class="axis"/>')
    body.append(_text(axis_w - 4, y_base - plot_h + 4, top, anchor="end", fill=MUTED, cls="axis-label"))
    body.append(_text(axis_w - 4, y_base, 0, anchor="end", fill=MUTED, cls="axis-label"))
    for n, (day, a, b) in enumerate(days):
        x = axis_w + gap / 2 + n * group_w
        for m, (count, name, colour) in enumerate(((a, series[0], colours[0]), (b, series[1], colours[1]))):
            h = count / top * plot_h if top else 0
            cx = x + m * col_w
            body.append(_rect(cx, y_base - h, col_w - 1, h, colour, cls=f"col col-{m}", tip=f"{day}: {count} {name}"))
            if count:
                body.append(_text(cx + col_w / 2, y_base - h - 3, count, anchor="middle", cls="value small"))
        lx, ly = x + col_w, y_base + 12
        body.append(f'<text x="{lx:.1f}" y="{ly:.1f}" text-anchor="end" fill="{INK}" class="day" '
                    f'transform="rotate(-45 {lx:.1f} {ly:.1f})">{_attr(day)}</text>')
    width = max(axis_w + len(days) * group_w + PAD, 240)
    return _svg(width, y_base + label_h + PAD, label, body, "chart-columns")


def _shade(share: float) -> tuple[str, str]:
    """(fill, text colour) for a success share: white (0) to Okabe-Ito blue (1)."""
    share = min(max(share, 0.0), 1.0)
    r, g, b = (int(round(255 + (c - 255) * share)) for c in (0x00, 0x72, 0xB2))
    return f"#{r:02x}{g:02x}{b:02x}", ("#ffffff" if share >= 0.55 else INK)


def success_grid(nights: Sequence[str], payers: Sequence[str], cells: Mapping[tuple[str, str], float | None], *,
                 label: str) -> Markup:
    """Night (rows) x payer (columns) cells shaded by success share, the share printed in each cell."""
    nights, payers = [str(n) for n in nights], [str(p) for p in payers]
    if not nights or not payers:
        return empty_chart(label)
    cell_w = max(max(_text_width(p) for p in payers) + PAD, 56)
    night_w = max(_text_width(n) for n in nights) + PAD
    head = ROW_H + 4
    body = []
    for m, payer in enumerate(payers):
        body.append(_text(night_w + m * cell_w + cell_w / 2, ROW_H - 6, payer, anchor="middle", cls="payer"))
    for n, night in enumerate(nights):
        y = head + n * ROW_H
        body.append(_text(night_w - 4, y + ROW_H - 7, night, anchor="end", cls="night"))
        for m, payer in enumerate(payers):
            x = night_w + m * cell_w
            key = (night, payer)
            if key not in cells:
                body.append(_rect(x + 1, y + 1, cell_w - 2, ROW_H - 2, "#ffffff", cls="cell cell-none",
                                  tip=f"{payer} {night}: not run", stroke="#d0d7de"))
                continue
            share = cells[key]
            if share is None:
                fill, ink, words = "#eeeeee", INK, "–"
                tip = f"{payer} {night}: no claims checked"
            else:
                fill, ink = _shade(share)
                words = f"{share:.0%}"
                tip = f"{payer} {night}: {words} of claims checked ok"
            body.append(_rect(x + 1, y + 1, cell_w - 2, ROW_H - 2, fill, cls="cell", tip=tip, stroke=MUTED))
            body.append(_text(x + cell_w / 2, y + ROW_H - 7, words, anchor="middle", fill=ink, cls="share"))
    return _svg(night_w + len(payers) * cell_w + PAD, head + len(nights) * ROW_H + PAD, label, body,
                "chart-grid")


def _money(value: Decimal) -> str:
    return f"${value:,.2f}"


def dashboard_charts(dash) -> dict[str, Markup]:
    """The dashboard's charts by name (the names of the page's data tables), from a `Dashboard`."""
    def words(kind: str) -> str:
        return kind.replace("_", " ")

    nights = [f"{n:%m/%d}" for n in dash.nights]
    return {
        "open-by-payer": stacked_bars([(p.payer, p.by_kind) for p in dash.open_by_payer_kind], dash.kinds,
                                      label="Open tasks by payer and kind", kind_label=words),
        "ageing": bar_chart([(b.bucket, b.billed, f"{_money(b.billed)} ({b.claims} claims)") for b in dash.ageing]
                            if any(b.claims for b in dash.ageing) else [],
                            label="Claims not finalized: billed dollars by days since submitted"),
        "top-denials": bar_chart([(f"CARC {d.code}", d.dollars, f"{_money(d.dollars)} ({d.claims} claims)")
                                  for d in dash.top_denials], label="Top denial codes by dollars at stake"),
        "records-by-payer": bar_chart([(r.payer, r.open, f"{r.open} open of {r.total}")
                                       for r in dash.records_by_payer], label="Records requests by payer"),
        "opened-closed": columns_chart([(f"{d.day:%m/%d}", d.opened, d.closed) for d in dash.opened_closed_per_day]
                                       if any(d.opened or d.closed for d in dash.opened_closed_per_day) else [],
                                       label="Tasks opened and closed per day"),
        "bot-success": success_grid(nights, dash.payers_run,
                                    {(f"{r.night:%m/%d}", r.payer): r.share for r in dash.bot_success},
                                    label="Share of claims the bots checked without failing, by night and payer"),
    }
