"""Secrets never shown: one place that masks credentials in URLs and known secret values in any text.

Contract:
- :func:`redact_url` masks the parts of a URL that carry credentials: ``user:password@``, query values whose name
  says key/token/secret/password/auth, and path segments that look like API keys (20+ characters of letters and
  digits, at least one digit: ``/v3/<key>``, ``/bsc/<key>``). The host stays, so a log line still names the endpoint.
- :func:`register` / :func:`register_url` remember secret values of this process (an RPC URL's key parts, an API
  key, a private key, a password once read); :func:`redact_text` masks every remembered value and every URL in a text.
- :class:`RedactingFilter` applies :func:`redact_text` to every log record (message, arguments and traceback) on the
  handlers :func:`install_log_filter` puts it on. Used by ``config show``, error messages, logs and the health file.
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import parse_qsl, urlsplit, urlunsplit

MASK = "***"
MIN_SECRET_LENGTH = 6  # shorter values would mask ordinary words
_SECRET_NAMES = ("key", "token", "secret", "password", "passwd", "auth", "sig", "credential")
_KEYLIKE_SEGMENT = re.compile(r"^(?=.*[0-9])[A-Za-z0-9_-]{20,}$")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")

_lock = threading.Lock()
_secrets: set[str] = set()


def _secret_name(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in _SECRET_NAMES)


def secret_parts(url: str) -> list[str]:
    """The credential-bearing pieces of ``url`` (userinfo, secret query values, key-like path segments)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found: list[str] = []
    if "@" in parts.netloc:
        found.append(parts.netloc.rsplit("@", 1)[0])
    found += [value for name, value in parse_qsl(parts.query, keep_blank_values=True) if _secret_name(name) and value]
    found += [seg for seg in parts.path.split("/") if _KEYLIKE_SEGMENT.match(seg)]
    return found


def redact_url(url: str) -> str:
    """``url`` with its credentials masked (see the module contract); unparseable text is masked whole."""
    try:
        parts = urlsplit(url)
        host = parts.netloc.rsplit("@", 1)[-1]
        netloc = f"{MASK}@{host}" if "@" in parts.netloc else parts.netloc
        path = "/".join(MASK if _KEYLIKE_SEGMENT.match(seg) else seg for seg in parts.path.split("/"))
        query = "&".join(
            f"{name}={MASK}" if _secret_name(name) else (f"{name}={value}" if value else name)
            for name, value in parse_qsl(parts.query, keep_blank_values=True)
        )
        return urlunsplit((parts.scheme, netloc, path, query, "" if not parts.fragment else MASK))
    except ValueError:
        return MASK


def register(*values: str | None) -> None:
    """Remember secret values so that :func:`redact_text` masks them wherever they appear."""
    with _lock:
        for value in values:
            if value and len(value.strip()) >= MIN_SECRET_LENGTH:
                _secrets.add(value.strip())
                if value.strip().lower().startswith("0x"):
                    _secrets.add(value.strip()[2:])


def register_url(url: str) -> None:
    register(*secret_parts(url))


def redact_text(text: str) -> str:
    """``text`` with every registered secret and the credentials of every URL in it masked."""
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
        elif secret.lower() in text.lower():
            text = re.sub(re.escape(secret), MASK, text, flags=re.IGNORECASE)
    return _URL.sub(lambda m: redact_url(m.group()), text)


class RedactingFilter(logging.Filter):
    """Masks secrets in a record's final message and traceback text (the record is rewritten, never dropped)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        record.msg, record.args = redact_text(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        return True


_FILTER = RedactingFilter()


def install_log_filter(logger: logging.Logger | None = None) -> None:
    """Put the redacting filter on every handler of ``logger`` (the root logger by default); idempotent."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)
