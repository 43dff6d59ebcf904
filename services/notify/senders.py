"""The channels, behind one ``Sender`` interface: SMS over an HTTP gateway, e-mail over SMTP."""
from __future__ import annotations

import json
import smtplib
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Protocol

from shared.config import SmtpSettings

DEFAULT_SMS_URL = "http://127.0.0.1:8090/v1/sms"


@dataclass(frozen=True)
class Outgoing:
    address: str
    subject: str
    text: str
    idempotency_key: str


@dataclass(frozen=True)
class Receipt:
    provider_id: str


class DeliveryError(Exception):
    """The provider did not take the message; ``permanent`` ones are not retried."""

    def __init__(self, reason: str, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class Sender(Protocol):
    channel: str

    def send(self, message: Outgoing) -> Receipt: ...


class HttpSmsSender:
    """The provider's wire format is described in ``services/notify/SMS.md``."""

    channel = "sms"

    def __init__(self, url: str = DEFAULT_SMS_URL, api_key: str = "", timeout: float = 5.0) -> None:
        self.url = url
        self.api_key = api_key
        self.timeout = timeout

    def send(self, message: Outgoing) -> Receipt:
        body = {"phone": message.address, "text": message.text, "idempotency_key": message.idempotency_key}
        request = urllib.request.Request(
            self.url,
            data=json.dumps(body, ensure_ascii=False).encode(),
            headers=self._headers(message.idempotency_key),
            method="POST",
        )
        return _sms_receipt(*self._post(request))

    def _headers(self, key: str) -> dict[str, str]:
        headers = {"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": key}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers

    def _post(self, request: urllib.request.Request) -> tuple[int, dict[str, object]]:
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, _json(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, _json(exc.read())
        except (TimeoutError, urllib.error.URLError, OSError) as exc:
            raise DeliveryError(f"短信网关不可达: {exc}") from exc


def _json(raw: bytes) -> dict[str, object]:
    try:
        found = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _sms_receipt(status: int, body: dict[str, object]) -> Receipt:
    if status == 200 and body.get("code") == "OK":
        return Receipt(str(body.get("message_id", "")))
    reason = f"{body.get('code', status)}: {body.get('message', '')}".strip()
    # 4xx is the message's own fault (bad number, bad text): trying again cannot help.
    raise DeliveryError(reason, permanent=400 <= status < 500 and status != 429)


class SmtpSender:
    """E-mail over SMTP. STARTTLS whenever the server offers it, and always before a login
    (credentials never cross in clear); the server's certificate and host name are verified
    against the system's CAs, or ``ONETRIP_SMTP_CA_FILE`` (a campus CA's bundle)."""

    channel = "email"

    def __init__(self, settings: SmtpSettings, timeout: float = 10.0) -> None:
        self.host, self.port, self.sender = settings.host, settings.port, settings.sender
        self.user, self.password = settings.user, settings.password
        self.ca_file = settings.ca_file or None
        self.timeout = timeout

    def send(self, message: Outgoing) -> Receipt:
        email = self._email(message)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                self._secure(smtp)
                if self.user:
                    smtp.login(self.user, self.password)
                smtp.send_message(email)
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"收件地址被拒绝: {_first_refusal(exc)}", permanent=True) from exc
        except ssl.SSLCertVerificationError as exc:
            raise DeliveryError(f"SMTP 服务器证书未通过验证: {exc.verify_message}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP: {exc}") from exc
        return Receipt(str(email["Message-ID"]))

    def _secure(self, smtp: smtplib.SMTP) -> None:
        smtp.ehlo()
        if smtp.has_extn("starttls"):
            smtp.starttls(context=ssl.create_default_context(cafile=self.ca_file))
            smtp.ehlo()
        elif self.user:
            raise DeliveryError("SMTP 服务器不支持 STARTTLS,不以明文发送口令")

    def _email(self, message: Outgoing) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = message.address
        email["Subject"] = message.subject
        email["Date"] = formatdate(localtime=True)
        # A stable Message-ID: a resent copy is recognisably the same message.
        email["Message-ID"] = f"<{message.idempotency_key}@onetrip>"
        email.set_content(message.text)
        return email


def _first_refusal(exc: smtplib.SMTPRecipientsRefused) -> str:
    for code, reason in exc.recipients.values():
        return f"{code} {reason.decode(errors='replace') if isinstance(reason, bytes) else reason}"
    return str(exc)
