"""Two call desks (two server processes' worth: each Runtime has its own) racing to authorize
the same new calls: both answer, alike, and each call holds money once."""

from __future__ import annotations

import dataclasses
import uuid

from tests.api.test_calls_api import AT, calls  # noqa: F401 - the fixture

from commcredits.domain.money import parse_micros
from commcredits.services.calls import call_control
from commcredits.services.calls.call_control import AuthorizeRequest
from commcredits.services.usage.call_records import parse_instant


def test_two_desks_authorizing_the_same_new_calls_agree(calls, rt) -> None:  # noqa: F811
    tid, uid = calls.setup(funds="50.00")
    other = dataclasses.replace(rt, caches={})  # a second desk on the same database
    answers = []
    for _ in range(40):
        request = AuthorizeRequest(tid, uuid.uuid4().hex, "user_out", "+442079460000", "+12025550100", uid, None,
                                   parse_instant(AT))
        first, second = (call_control.submit(r, calls.switch, request) for r in (rt, other))
        answers.append((first.result(30), second.result(30)))
    for a, b in answers:
        assert a == b and a["decision"] == "allow"
    held = sum(parse_micros(a["reservation"]["amount"]) for a, _ in answers)
    assert parse_micros(str(calls.balance(tid)["reserved"])) == held
