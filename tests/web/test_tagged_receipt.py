"""The PDF receipt is a tagged PDF (PDF/UA-1, as finding 17.10 asks): a structure tree with
the heading, paragraphs and the table, /MarkInfo /Marked true, the language and title, and
the same words as the HTML receipt."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime

from tests.pdf_support import pdf_objects, pdf_text

from commcredits.config import Settings
from commcredits.db.receipts import Receipt
from commcredits.documents.receipts import render_pdf

RECEIPT = Receipt(id="rcpt-1", tenant_id="t-1", number="R-2026-000007", year=2026, seq=7, kind="purchase",
                  attempt_id="a-1", transaction_id=12, amount=1_234_560_000, currency="USD", card_brand="visa",
                  card_last4="4242", tenant_name="Fabrikam <Ltd>", charge_ref="ch_9",
                  issued_at=datetime(2026, 12, 1, 3, 30, tzinfo=UTC))
SELLER = Settings(seller_name="Northwind Telecom Ltd", seller_address="1 Main St | Springfield",
                  seller_tax_id="GB123456789")


def catalog_of(objects: bytes) -> bytes:
    """The document catalog's dictionary, nested dictionaries included."""
    start = objects.rfind(b"<<", 0, objects.index(b"/Type /Catalog"))
    depth, at = 0, start
    while True:
        if objects.startswith(b"<<", at):
            depth, at = depth + 1, at + 2
        elif objects.startswith(b">>", at):
            depth, at = depth - 1, at + 2
            if depth == 0:
                return objects[start:at]
        else:
            at += 1


def test_the_pdf_receipt_is_tagged() -> None:
    pdf = render_pdf(RECEIPT, SELLER, "America/New_York")
    objects = pdf_objects(pdf)
    catalog = catalog_of(objects)
    assert re.search(rb"/StructTreeRoot \d+ 0 R", catalog), catalog
    assert re.search(rb"/MarkInfo\s*<<\s*/Marked true\s*>>", catalog), catalog
    assert b"/Lang (en)" in catalog and b"/DisplayDocTitle true" in catalog
    assert b'pdfuaid:part="1"' in objects  # PDF/UA-1 declared in the XMP metadata
    for role in (b"/H1", b"/P", b"/Table", b"/TH", b"/TD"):
        assert re.search(rb"/S " + re.escape(role) + rb"\b", objects), role
    assert b"/Type /StructTreeRoot" in objects


def test_the_pdf_says_what_the_html_says_and_is_the_same_every_time() -> None:
    pdf = render_pdf(RECEIPT, SELLER, "America/New_York")
    text = pdf_text(pdf)
    for words in ("Receipt R-2026-000007", "issued 30 Nov 2026 22:30 EST", "Northwind Telecom Ltd", "Springfield",
                  "Tax id: GB123456789", "Billed to: Fabrikam <Ltd>", "Visa ending in 4242", "1234.56 USD"):
        assert words in text, (words, text)
    assert render_pdf(RECEIPT, SELLER, "America/New_York") == pdf  # no creation date: same receipt, same bytes
    assert render_pdf(replace(RECEIPT, number="R-2026-000008"), SELLER, "America/New_York") != pdf
