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
from email.policy import default as default_policy
from email.utils import formatdate, make_msgid
from typing import Any

from email_validator import EmailNotValidError, validate_email

from alerts.channels import Done, Outgoing, Permanent, Result, Retry, Sent
from alerts.render import Email, render_digest, render_email
from sendwatch.config import SmtpConfig
from sendwatch.errors import SendwatchError
from sendwatch.text import quoted

log = logging.getLogger(__name__)
TIMEOUT = 30


class BadAddress(SendwatchError):
    """Not exactly one plain mailbox (user@domain)."""


def parse_address(text: str) -> str:
    """One plain mailbox, `local@domain`, or BadAddress: nothing that a mail library could read as
    more than one recipient or as something else (no display names, groups, commas, quoted local
    parts, comments, encoded words like `=?utf-8?q?...?=`, IP literals or non-ASCII local parts).

    Returns the address as it is to be stored and sent to (the domain lower-cased, in ASCII).
    """
    text = text.strip()
    if not text or len(text) > 254 or "=?" in text or not text.isprintable():
        raise BadAddress(f"not an email address: {quoted(text)}")
    try:
        valid = validate_email(
            text,
            check_deliverability=False,
            allow_smtputf8=False,
            allow_quoted_local=False,
            allow_domain_literal=False,
            allow_display_name=False,
        )
    except EmailNotValidError as exc:
        raise BadAddress(f"not an email address: {quoted(text)} ({exc})") from None
    address = valid.ascii_email or valid.normalized
    # Belt and braces: the email library that writes the To: header must read one mailbox, the same.
    header = default_policy.header_factory("To", address)
    mailboxes: tuple[Any, ...] = tuple(getattr(header, "addresses", ()))
    if len(mailboxes) != 1 or mailboxes[0].addr_spec != address or "=?" in address:
        raise BadAddress(f"not an email address: {quoted(text)}")
    return address


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

    def _connect(self, timeout: float = TIMEOUT) -> smtplib.SMTP:
        config = self.config
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if config.security == "ssl":
            smtp = smtplib.SMTP_SSL(config.host, config.port, timeout=timeout, context=context)
        else:
            smtp = smtplib.SMTP(config.host, config.port, timeout=timeout)
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
            address = parse_address(outgoing.address)
        except BadAddress as exc:
            return Permanent(str(exc))
        try:
            # The envelope is the subscription's one address, whatever the To: header parses to.
            refused = smtp.send_message(self.build(outgoing), to_addrs=[address])
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

    def notify(self, address: str, subject: str, text: str, timeout: float = TIMEOUT) -> None:
        rendered = Email(subject=subject, text=text, html=f"<pre>{html.escape(text)}</pre>")
        message = self._message(
            address, rendered, make_msgid("sendwatch.notice", self.domain), None
        )
        envelope = parse_address(address)  # BadAddress unless exactly one mailbox
        smtp = self._connect(timeout)
        try:
            smtp.send_message(message, to_addrs=[envelope])
        finally:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                smtp.quit()


def _classify(code: int, error: str) -> Result:
    """5xx: the mailbox or message is refused for good; anything else may pass."""
    return Permanent(f"{code} {error}") if 500 <= code < 600 else Retry(f"{code} {error}")
