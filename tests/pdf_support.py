"""Reading the PDFs the service makes, in tests: the objects with every Flate stream
inflated (so dictionaries inside compressed object streams can be searched), and the text
on the pages (pypdf)."""

from __future__ import annotations

import re
import zlib

import pytest


def pdf_objects(data: bytes) -> bytes:
    """The file's bytes followed by every stream that inflates."""
    parts = [data]
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            parts.append(zlib.decompress(stream))
        except zlib.error:
            continue
    return b"\n".join(parts)


def pdf_text(data: bytes) -> str:
    """The text of every page, as a reader extracts it (whitespace collapsed)."""
    pypdf = pytest.importorskip("pypdf", reason="pypdf reads the PDF's text (dev dependency)")
    from io import BytesIO

    reader = pypdf.PdfReader(BytesIO(data))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())
