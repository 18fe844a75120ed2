"""A receipt as a document: HTML from the Jinja2 template `templates/receipt.html`, or PDF
drawn with reportlab. Both show the same facts (seller with its address and tax id from the
operator's settings, number, date in the tenant's time zone, tenant, card, amount, currency);
the PDF is built with reportlab's invariant mode so the same receipt always gives the same
bytes. reportlab's open-source canvas cannot write a tagged (structure-tree) PDF; the HTML
receipt is the accessible one, and the PDF says so in its metadata subject.
"""

from __future__ import annotations

from io import BytesIO
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas

from ..config import Settings
from ..db.receipts import Receipt
from ..domain.money import format_micros, minor_units
from .render import when

TEMPLATES = Path(__file__).resolve().parent / "templates"
_env = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined, autoescape=True)
_DESCRIPTIONS = {"purchase": "Communications Credits purchase",
                 "auto_recharge": "Communications Credits auto-recharge"}


def _facts(r: Receipt, seller: Settings | None, zone: str) -> dict[str, Any]:
    seller = seller or Settings.from_env()  # callers without a runtime (API, CLI) read the environment
    address = [line.strip() for line in seller.seller_address.replace(" | ", "\n").splitlines() if line.strip()]
    return {
        "issued": when(r.issued_at, zone),
        "amount": format_micros(r.amount, minor_units(r.currency)),
        "description": _DESCRIPTIONS[r.kind],
        "seller": seller.seller_name, "seller_address": address, "tax_id": seller.seller_tax_id,
    }


def render_html(r: Receipt, seller: Settings | None = None, zone: str = "UTC", *, back: str = "") -> str:
    return _env.get_template("receipt.html").render(r=r, back=back, **_facts(r, seller, zone))


def render_pdf(r: Receipt, seller: Settings | None = None, zone: str = "UTC") -> bytes:
    facts = _facts(r, seller, zone)
    out = BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4, invariant=1)
    pdf.setTitle(f"Receipt {r.number}")
    pdf.setAuthor(facts["seller"])
    pdf.setSubject("Receipt (untagged PDF; the HTML receipt is the accessible version)")
    width, height = A4
    x, y = 20 * mm, height - 30 * mm
    pdf.setFont("Helvetica-Bold", 18)
    pdf.drawString(x, y, f"Receipt {r.number}")
    pdf.setFont("Helvetica", 10)
    seller_lines = [facts["seller"], *facts["seller_address"]]
    if facts["tax_id"]:
        seller_lines.append(f"Tax id: {facts['tax_id']}")
    lines = [
        f"Communications Credits - issued {facts['issued']}",
        "",
        *seller_lines,
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
