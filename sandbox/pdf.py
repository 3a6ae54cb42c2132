"""Render a sandbox letter as a real PDF with extractable text (fpdf2)."""

from __future__ import annotations

from fpdf import FPDF

from sandbox.world import Letter


def letter_pdf(letter: Letter, payer_name: str) -> bytes:
    """A one-page letter: letterhead, date, title and body lines."""
    pdf = FPDF(format="Letter")
    pdf.set_creator("payerbot sandbox")
    pdf.set_title(letter.title)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 10, payer_name, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    pdf.cell(0, 6, f"Letter date: {letter.letter_date:%m/%d/%Y}", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 6, f"Letter ID: {letter.letter_id}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("Helvetica", "", 11)
    for line in letter.body:
        pdf.multi_cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
