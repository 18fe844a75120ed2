"""A receipt as a document: HTML from the Jinja2 template `templates/receipt.html`, or PDF
drawn with reportlab. Both show the same facts (number, date, tenant, card, amount,
currency) and nothing else; the PDF is built with reportlab's invariant mode so the same
receipt always gives the same bytes.
"""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas

from ..db.receipts import Receipt
from ..domain.money import format_micros, minor_units

TEMPLATES = Path(__file__).resolve().parent / "templates"
_env = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined, autoescape=True)
_DESCRIPTIONS = {"purchase": "Communications Credits purchase",
                 "auto_recharge": "Communications Credits auto-recharge"}


def _facts(r: Receipt) -> dict[str, str]:
    return {
        "issued": r.issued_at.strftime("%d %b %Y %H:%M UTC"),
        "amount": format_micros(r.amount, minor_units(r.currency)),
        "description": _DESCRIPTIONS[r.kind],
    }


def render_html(r: Receipt) -> str:
    return _env.get_template("receipt.html").render(r=r, **_facts(r))


def render_pdf(r: Receipt) -> bytes:
    facts = _facts(r)
    out = BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4, invariant=1)
    pdf.setTitle(f"Receipt {r.number}")
    pdf.setAuthor("commcredits")
    width, height = A4
    x, y = 20 * mm, height - 30 * mm
    pdf.setFont("Helvetica-Bold", 18)
    pdf.drawString(x, y, f"Receipt {r.number}")
    pdf.setFont("Helvetica", 10)
    lines = [
        f"Communications Credits - issued {facts['issued']}",
        "",
        f"Billed to: {r.tenant_name}",
        f"Paid with: {r.card_brand.capitalize()} ending in {r.card_last4}",
        f"Payment reference: {r.charge_ref}",
        "",
    ]
    for line in lines:
        y -= 6 * mm
        pdf.drawString(x, y, line)
    y -= 8 * mm
    pdf.setFont("Helvetica-Bold", 11)
    pdf.drawString(x, y, facts["description"])
    pdf.drawRightString(width - 20 * mm, y, f"{facts['amount']} {r.currency}")
    y -= 4 * mm
    pdf.line(x, y, width - 20 * mm, y)
    y -= 7 * mm
    pdf.drawString(x, y, "Total paid")
    pdf.drawRightString(width - 20 * mm, y, f"{facts['amount']} {r.currency}")
    pdf.setFont("Helvetica", 8)
    pdf.drawString(x, 20 * mm, f"Credits expire 12 months after purchase. Receipt id {r.id}.")
    pdf.showPage()
    pdf.save()
    return out.getvalue()
