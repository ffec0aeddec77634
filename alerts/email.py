"""Email over SMTP: multipart plain text and HTML, one connection per batch.

Each delivery's Message-ID is derived from the delivery's id, so if a crash comes
between sending and recording "sent", the resent message carries the same
Message-ID and mail systems and clients treat it as the same message. Delivery
is at-least-once at the SMTP level; that is the bound.
"""

from __future__ import annotations

import contextlib
import html
import logging
import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from alerts.channels import Done, Outgoing, Permanent, Result, Retry, Sent
from alerts.render import Email, render_digest, render_email
from sendwatch.config import SmtpConfig
from sendwatch.errors import SendwatchError

log = logging.getLogger(__name__)
TIMEOUT = 30


class SmtpChannel:
    name = "email"

    def __init__(self, config: SmtpConfig) -> None:
        if not config.host or not config.from_address:
            raise SendwatchError("email needs [smtp] host and from_address in the configuration")
        self.config = config
        self.domain = config.from_address.rpartition("@")[2] or "sendwatch.invalid"

    def message_id(self, delivery_id: int) -> str:
        return f"<sendwatch.delivery.{delivery_id}@{self.domain}>"

    def build(self, outgoing: Outgoing) -> EmailMessage:
        rendered = (
            render_digest(outgoing.summaries, outgoing.unsubscribe_url)
            if outgoing.digest
            else render_email(outgoing.summaries[0], outgoing.unsubscribe_url)
        )
        return self._message(
            outgoing.address,
            rendered,
            self.message_id(outgoing.delivery_id),
            outgoing.unsubscribe_url,
        )

    def _message(
        self, to: str, rendered: Email, message_id: str, unsubscribe_url: str | None
    ) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.config.from_address
        message["To"] = to
        message["Subject"] = rendered.subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = message_id
        if unsubscribe_url:
            message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
            message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        message.set_content(rendered.text)
        message.add_alternative(rendered.html, subtype="html")
        return message

    def _connect(self) -> smtplib.SMTP:
        config = self.config
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if config.security == "ssl":
            smtp = smtplib.SMTP_SSL(config.host, config.port, timeout=TIMEOUT, context=context)
        else:
            smtp = smtplib.SMTP(config.host, config.port, timeout=TIMEOUT)
            if config.security == "starttls":
                smtp.starttls(context=context)
        if config.username and config.password is not None:
            smtp.login(config.username, config.password.get_secret_value())
        return smtp

    def send(self, messages: Sequence[Outgoing], done: Done) -> None:
        if not messages:
            return
        try:
            smtp = self._connect()
        except (OSError, smtplib.SMTPException) as exc:
            error = f"cannot reach SMTP server {self.config.host}:{self.config.port}: {exc}"
            for outgoing in messages:
                done(outgoing, Retry(error))
            return
        try:
            for index, outgoing in enumerate(messages):
                result = self._send_one(smtp, outgoing)
                done(outgoing, result)
                if isinstance(result, Retry) and "disconnected" in result.error:
                    for rest in messages[index + 1 :]:
                        done(rest, Retry("SMTP connection lost"))
                    break
        finally:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                smtp.quit()

    def _send_one(self, smtp: smtplib.SMTP, outgoing: Outgoing) -> Result:
        try:
            refused = smtp.send_message(self.build(outgoing))
        except smtplib.SMTPRecipientsRefused as exc:
            return _classify(min(code for code, _ in exc.recipients.values()), str(exc.recipients))
        except smtplib.SMTPResponseException as exc:
            error = exc.smtp_error
            text = error.decode("utf-8", "replace") if isinstance(error, bytes) else str(error)
            return _classify(exc.smtp_code, text)
        except smtplib.SMTPServerDisconnected as exc:
            return Retry(f"disconnected: {exc}")
        except (OSError, smtplib.SMTPException) as exc:
            return Retry(str(exc))
        if refused:
            return Permanent(f"refused: {refused}")
        return Sent()

    def notify(self, address: str, subject: str, text: str) -> None:
        rendered = Email(subject=subject, text=text, html=f"<pre>{html.escape(text)}</pre>")
        message = self._message(
            address, rendered, make_msgid("sendwatch.notice", self.domain), None
        )
        smtp = self._connect()
        try:
            smtp.send_message(message)
        finally:
            smtp.quit()


def _classify(code: int, error: str) -> Result:
    """5xx: the mailbox or message is refused for good; anything else may pass."""
    return Permanent(f"{code} {error}") if 500 <= code < 600 else Retry(f"{code} {error}")
