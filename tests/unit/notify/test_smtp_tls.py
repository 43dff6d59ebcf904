"""E-mail goes out over STARTTLS only to a server whose certificate and name check out: a real
SMTP server (aiosmtpd) presents a certificate of a campus CA made in the test (trustme)."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from services.notify.senders import DeliveryError, Outgoing, SmtpSender
from shared.config import SmtpSettings
from tests.support.gateway import free_port
from tests.support.notify import Mailbox

NOTICE = Outgoing(
    address="li@hkxy.example.edu.cn",
    subject="办件已受理",
    text="您的公房装修改造申请已受理。",
    idempotency_key="notice-1",
)


def accept_any_login(*args: Any) -> AuthResult:
    return AuthResult(success=True)


Relay = Callable[[trustme.LeafCert], tuple[Mailbox, int]]


@pytest.fixture
def relay() -> Iterator[Relay]:
    """``relay(certificate)``: an SMTP server that requires STARTTLS, presenting it."""
    controllers: list[Controller] = []

    def start(certificate: trustme.LeafCert) -> tuple[Mailbox, int]:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        certificate.configure_cert(context)
        mailbox, port = Mailbox(), free_port()
        controller = Controller(
            mailbox,
            hostname="127.0.0.1",
            port=port,
            tls_context=context,
            require_starttls=True,
            authenticator=accept_any_login,
        )
        controller.start()
        controllers.append(controller)
        return mailbox, port

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture
def campus_ca() -> trustme.CA:
    return trustme.CA(organization_name="某大学信息化建设与管理处")


@pytest.fixture
def ca_file(campus_ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "campus-ca.pem"
    campus_ca.cert_pem.write_to_path(str(path))
    return str(path)


Configure = Callable[..., SmtpSender]


@pytest.fixture
def sender() -> Configure:
    def configured(port: int, user: str = "", ca_file: str | None = None) -> SmtpSender:
        password = "campus-relay-password" if user else ""
        settings = SmtpSettings(
            host="127.0.0.1", port=port, user=user, password=password, ca_file=ca_file or ""
        )
        return SmtpSender(settings, timeout=5)

    return configured


@pytest.mark.parametrize("user", ["", "onetrip"])
def test_a_server_whose_ca_is_not_configured_gets_no_mail(
    campus_ca: trustme.CA, relay: Relay, sender: Configure, user: str
) -> None:
    # Given the campus relay presents a certificate of the campus CA, which is not configured
    mailbox, port = relay(campus_ca.issue_cert("127.0.0.1"))

    # When a notice is sent (with and without a login)
    with pytest.raises(DeliveryError) as refused:
        sender(port, user=user).send(NOTICE)

    # Then the certificate is refused, and nothing (no password either) reached the server
    assert "证书未通过验证" in refused.value.reason
    assert mailbox.received == []


def test_with_the_campus_ca_configured_the_notice_is_delivered(
    campus_ca: trustme.CA, ca_file: str, relay: Relay, sender: Configure
) -> None:
    # Given the campus relay, and ONETRIP_SMTP_CA_FILE naming the campus CA
    mailbox, port = relay(campus_ca.issue_cert("127.0.0.1"))

    # When a notice is sent with a login
    sender(port, user="onetrip", ca_file=ca_file).send(NOTICE)

    # Then it arrives
    assert [message["Subject"] for message in mailbox.to(NOTICE.address)] == ["办件已受理"]


def test_a_certificate_for_another_host_is_refused_even_from_the_campus_ca(
    campus_ca: trustme.CA, ca_file: str, relay: Relay, sender: Configure
) -> None:
    # Given a server presenting the campus CA's certificate for another host name
    mailbox, port = relay(campus_ca.issue_cert("mail.other.example.edu.cn"))

    # When a notice is sent to 127.0.0.1
    with pytest.raises(DeliveryError) as refused:
        sender(port, user="onetrip", ca_file=ca_file).send(NOTICE)

    # Then the name does not match and nothing was sent
    assert "证书未通过验证" in refused.value.reason
    assert mailbox.received == []
