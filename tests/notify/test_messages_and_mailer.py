"""Templates for every event, the retry policy, the SMTP URL, and SMTP with STARTTLS and
login against a real aiosmtpd server; the fake mailer that wraps a plain function."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from tests.notify.support import SmtpServer, emit, use_smtp

from commcredits.notify import dispatcher, messages
from commcredits.notify.mailer import FakeMailer, SmtpConfig, SmtpMailer
from commcredits.notify.outbox import EVENTS
from commcredits.notify.retry import after_failure, backoff

WHEN = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
TENANT = messages.TenantInfo("t-1", "Fabrikam <Retail> & Co", "JPY")
PAYLOADS: dict[str, dict[str, Any]] = {
    "auto_recharge_succeeded": {"amount": "5000", "balance": "5120", "receipt_id": "r-9", "receipt_number": "R-0009",
                                "payment_method": "visa ****4242"},
    "auto_recharge_failed": {"amount": "5000", "reason": "card_declined", "message": "Your card was declined.",
                             "balance": "-40",
                             "next_retry_at": "2026-03-02T09:30:00Z"},
    "auto_recharge_suspended": {"reason": "expired_card", "balance": "-40", "attempts": 3},
    "balance_depleted": {"balance": "-40"},
    "pool_threshold": {"percent": 100, "product": "audio_conferencing", "used_minutes": 3000,
                       "total_minutes": 3000, "period": "2026-03"},
    "funds_expiring": {"lot_id": "l-1", "source": "purchase", "amount": "9000", "remaining": "1200",
                       "expires_at": "2026-03-20T09:30:00Z", "days_left": 19, "balance": "5120"},
    "statement_issued": {"period": "2026-02", "total": "18250", "statement_id": "st-2", "lines": [
        {"category": "international", "capability": "user_out", "calls": 12, "seconds": 900, "amount": "18250"}]},
    "balance_low": {"balance": "900", "threshold": "1000"},
    "spend_cap_reached": {"cap": "daily_limit", "period": "2026-03-01", "limit": "20000", "spent": "20150"},
    "spend_anomaly": {"last_hour": "60000", "hourly_average": "300", "until": "2026-03-01T09:00:00+00:00"},
}
EXPECTED = {  # what each message must state besides the tenant and the admin link
    "auto_recharge_succeeded": ["5000 JPY", "5120 JPY", "R-0009", "visa ****4242"],
    "auto_recharge_failed": ["5000 JPY", "card_declined", "-40 JPY", "02 Mar 2026 09:30 UTC", "card was declined"],
    "auto_recharge_suspended": ["expired_card", "-40 JPY", "3 failed attempts"],
    "balance_depleted": ["-40 JPY", "add funds"],
    "balance_low": ["900 JPY", "1000 JPY"],
    "spend_cap_reached": ["daily limit", "20000 JPY", "20150 JPY", "2026-03-01"],
    "spend_anomaly": ["60000 JPY", "300 JPY", "01 Mar 2026 09:00 UTC"],
    "pool_threshold": ["100%", "audio_conferencing", "3000 of 3000 minutes"],
    "funds_expiring": ["1200 JPY", "9000 JPY", "20 Mar 2026 09:30 UTC", "19 days", "5120 JPY"],
    "statement_issued": ["2026-02", "18250 JPY", "st-2", "international / user_out", "12 calls, 18250 JPY"],
}


@pytest.mark.parametrize("event", EVENTS)
def test_every_event_renders_text_html_and_subject(event: str) -> None:
    n = messages.Notification("n-1", "t-1", event, PAYLOADS[event], ("a@x.example",), WHEN)
    out = messages.render(n, TENANT, public_url="https://cc.example/")
    assert out.subject.startswith("Fabrikam <Retail> & Co: ") and "\n" not in out.subject
    assert "Fabrikam <Retail> & Co" in out.text and "Fabrikam &lt;Retail&gt; &amp; Co" in out.html
    for body in (out.text, out.html):
        assert "https://cc.example/admin/t/t-1/" in body and "What to do next" in body
        for fact in EXPECTED[event]:
            assert fact in body, (event, fact)
    mail = messages.email(n, out, sender="Credits <no-reply@cc.example>")
    assert mail["Message-ID"] == "<n-1@cc.example>" and mail["To"] == "a@x.example"
    assert mail.as_bytes() == messages.email(n, out, sender="Credits <no-reply@cc.example>").as_bytes()


def test_times_are_in_the_tenant_zone_named_and_to_the_minute() -> None:
    london = messages.TenantInfo("t-2", "Contoso", "GBP", "Europe/London")
    n = messages.Notification("n-2", "t-2", "funds_expiring", {
        "remaining": "12.00", "amount": "20.00", "source": "purchase", "expires_at": "2026-12-30T04:38:59.123456+00:00",
        "days_left": 29, "balance": "40.00", "lot_id": "l-1"}, ("a@contoso.example",), WHEN)
    out = messages.render(n, london, public_url="https://admin.example")
    stamp = "30 Dec 2026 04:38 GMT (Europe/London)"
    assert stamp in out.subject and stamp in out.text and stamp in out.html
    assert ".123456" not in out.text and ":59" not in out.text
    assert messages.when(datetime(2026, 7, 1, 4, 38, 59, 999_999), "Europe/London") == \
        "01 Jul 2026 05:38 BST (Europe/London)"  # naive is UTC; summer time named
    assert messages.when("2026-12-31T03:38:00Z", "Pacific/Auckland") == "31 Dec 2026 16:38 NZDT (Pacific/Auckland)"
    assert messages.when("2026-12-31T03:38:00Z") == "31 Dec 2026 03:38 UTC"


def test_a_missing_payload_field_is_an_error_not_a_blank() -> None:
    n = messages.Notification("n-1", "t-1", "balance_depleted", {}, (), WHEN)
    with pytest.raises(Exception, match="balance"):
        messages.render(n, TENANT, public_url="https://cc.example")


def test_backoff_doubles_from_a_minute_to_an_hour_and_never_gives_up() -> None:
    assert [backoff(a) for a in range(1, 9)] == [timedelta(minutes=m) for m in (1, 2, 4, 8, 16, 32, 60, 60)]
    assert backoff(1000) == timedelta(hours=1)
    assert after_failure(7, WHEN).status == "retrying"
    assert after_failure(8, WHEN) == after_failure(8, WHEN)
    assert after_failure(50, WHEN).status == "failed"
    assert after_failure(50, WHEN).next_attempt_at == WHEN + timedelta(hours=1)
    with pytest.raises(ValueError):
        backoff(0)


def test_smtp_url_parsing() -> None:
    c = SmtpConfig.parse("smtp://ann%40corp:p%40ss@mail.example:587?starttls=1&timeout=5")
    assert (c.host, c.port, c.username, c.password, c.starttls, c.timeout) == \
        ("mail.example", 587, "ann@corp", "p@ss", True, 5.0)
    assert SmtpConfig.parse("smtp://mail.example").port == 25
    assert SmtpConfig.parse("smtp://mail.example").starttls is None
    assert SmtpConfig.parse("smtp://mail.example?starttls=0").starttls is False
    s = SmtpConfig.parse("smtps://mail.example")
    assert s.implicit_tls and s.port == 465
    for bad in ("http://mail.example", "smtp://", "smtp://mail.example?tls=1"):
        with pytest.raises(ValueError):
            SmtpConfig.parse(bad)


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert, key


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate")
def test_starttls_and_login_against_a_real_server(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    logins: list[tuple[bytes, bytes, bool]] = []

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        logins.append((data.login, data.password, session.ssl is not None))
        return AuthResult(success=data.password == b"p@ss")

    server = SmtpServer(tls_context=tls, require_starttls=True, authenticator=authenticator)
    server.start()
    try:
        url = f"smtp://relay%40corp:p%40ss@127.0.0.1:{server.port}?starttls=1&cafile={cert}"
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = "cc@corp.example", "a@x.example", "hi"
        message.set_content("hello")
        assert SmtpMailer(SmtpConfig.parse(url)).send(message, ["a@x.example"]) == {}
        assert logins == [(b"relay@corp", b"p@ss", True)]
        assert [m.rcpt_tos for m in server.messages] == [["a@x.example"]]
        untrusted = url.split("&cafile")[0]
        with pytest.raises(ssl.SSLError):
            SmtpMailer(SmtpConfig.parse(untrusted)).send(message, ["a@x.example"])
    finally:
        server.stop()
    assert len(server.messages) == 1


def test_the_fake_mailer_wraps_a_plain_function(rt, api, clock) -> None:
    tid = api.tenant(name="Fabrikam")
    api.user(tid, ["billing_administrator"], "bill@fabrikam.example")
    emit(rt, tid, "balance_depleted", {"balance": "-1.00"})
    emit(rt, tid, "balance_depleted", {"balance": "-2.00"})
    use_smtp(rt, None)
    outbox: list[EmailMessage] = []

    def deliver(message: EmailMessage, recipients: Any) -> dict[str, str] | None:
        if len(outbox) == 1:
            outbox.append(message)
            return {"gone@fabrikam.example": "550 no such user"}
        outbox.append(message)
        return None

    out = dispatcher.dispatch_due(rt.engine, rt.settings, clock.now(), mailer=FakeMailer(deliver))
    assert out["emails"] == {"sent": 2} and len(outbox) == 2
    notes = {n["last_error"] for n in api.call("GET", f"/v1/tenants/{tid}/notifications").json()["items"]}
    assert notes == {None, "gone@fabrikam.example refused: 550 no such user"}
