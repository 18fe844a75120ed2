"""The usage page shows the period's totals per call type and per capability (what paid),
and they add up to the page's own totals."""

from __future__ import annotations

import re

from tests.web.support import client_for, login, make_org
from tests.web.test_reconciliation_pages import _usage


def test_usage_page_totals_by_call_type_and_what_paid(rt, api) -> None:
    org = make_org(rt, kinds=("global",))
    _usage(rt, org)
    client = client_for(rt)
    login(client, org.email("global"))
    html = client.get(f"/admin/t/{org.tid}/usage").text
    calls = int(re.search(r"<dt>Calls</dt><dd>(\d+)</dd>", html).group(1))  # type: ignore[union-attr]
    for key in ("call_type", "capability"):
        table = html.split(f'id="totals-by-{key}"')[1].split("</table>")[0]
        counts = [int(n) for n in re.findall(r'</th><td class="num">(\d+)</td>', table)]
        assert len(counts) >= 2 and sum(counts) == calls
    assert "Credits" in html.split('id="totals-by-capability"')[1].split("</table>")[0]
