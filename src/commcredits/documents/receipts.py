"""A receipt as a document: HTML from the Jinja2 template `templates/receipt.html`, and the
PDF made from that same HTML by WeasyPrint as PDF/UA-1, a tagged PDF: a structure tree
(`/StructTreeRoot`, heading, paragraphs, a table with header cells), `/MarkInfo` `/Marked
true`, the document language and title, and the PDF/UA identification in its XMP metadata,
so a screen reader reads the PDF as it reads the page. Both show the same facts (seller with
its address and tax id from the operator's settings, number, date in the tenant's time zone,
tenant, card, amount, currency). The PDF carries no creation date and its fonts a fixed time, so the same receipt gives
the same bytes. WeasyPrint needs Pango (Debian: libpango-1.0-0, libpangoft2-1.0-0) and is
imported only when a PDF is made.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from ..config import Settings
from ..db.receipts import Receipt
from ..domain.money import Money
from ..formatting import when

TEMPLATES = Path(__file__).resolve().parent / "templates"
_env = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined, autoescape=True)
_DESCRIPTIONS = {"purchase": "Communications Credits purchase",
                 "auto_recharge": "Communications Credits auto-recharge"}


def _facts(r: Receipt, seller: Settings | None, zone: str) -> dict[str, Any]:
    seller = seller or Settings.from_env()  # callers without a runtime (API, CLI) read the environment
    address = [line.strip() for line in seller.seller_address.replace(" | ", "\n").splitlines() if line.strip()]
    return {
        "issued": when(r.issued_at, zone),
        "amount": Money(r.amount, r.currency).text,
        "description": _DESCRIPTIONS[r.kind],
        "seller": seller.seller_name, "seller_address": address, "tax_id": seller.seller_tax_id,
    }


def render_html(r: Receipt, seller: Settings | None = None, zone: str = "UTC", *, back: str = "",
                pdf: bool = False) -> str:
    return _env.get_template("receipt.html").render(r=r, back=back, pdf=pdf, **_facts(r, seller, zone))


def render_pdf(r: Receipt, seller: Settings | None = None, zone: str = "UTC") -> bytes:
    """The receipt as a tagged PDF (PDF/UA-1), from the same HTML as the page."""
    from weasyprint import HTML  # needs Pango; only the PDF does

    # The embedded font subsets carry a "modified" time that fontTools takes from the clock
    # unless SOURCE_DATE_EPOCH (reproducible builds) names one: fixed, the same receipt gives
    # the same bytes whenever it is made.
    os.environ.setdefault("SOURCE_DATE_EPOCH", "0")
    document = HTML(string=render_html(r, seller, zone, pdf=True), base_url=str(TEMPLATES))
    return bytes(document.write_pdf(pdf_variant="pdf/ua-1"))
