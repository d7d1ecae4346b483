"""The two ways out: the Telegram Bot API over HTTP and a generic JSON webhook (Discord/Slack-compatible).

Both are thin clients: ``send(text)`` raises ``ChannelError`` (a one-line reason, never the token or the URL) and
returns nothing on success. The Telegram client also reads commands (``get_updates``: long poll with ``offset``).
Every secret a client holds (the bot token, the webhook URL and its path) is registered with ``bot.redact`` at
construction, so a log line can never show it even if an exception message quotes the URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import requests

from bot.redact import register, register_url


class ChannelError(Exception):
    """A message could not be delivered (endpoint down, refused, rate limited); ``retry_after`` when told."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Channel(Protocol):
    name: str

    def send(self, text: str) -> None: ...


@dataclass(frozen=True)
class Update:
    """One Telegram update carrying a text message."""

    update_id: int
    chat_id: int
    text: str
    date: int = 0  # unix seconds the user sent it


def _error(kind: str, exc: BaseException) -> ChannelError:
    return ChannelError(f"{kind}: {type(exc).__name__}")  # the exception text may quote the URL: never shown


class TelegramClient:
    name = "telegram"

    def __init__(self, api_base: str, token: str, chat_id: int, *, timeout: float = 5.0) -> None:
        register(token)
        register_url(api_base)
        self._base = f"{api_base.rstrip('/')}/bot{token}"
        self.chat_id = chat_id
        self.timeout = timeout
        self._session = requests.Session()
        self._poll_session = requests.Session()  # the long poll has its own connection: sends never wait on it

    def _call(self, session: requests.Session, method: str, payload: dict[str, Any], timeout: float) -> Any:
        try:
            resp = session.post(f"{self._base}/{method}", json=payload, timeout=timeout)
        except requests.RequestException as exc:
            raise _error(f"telegram {method} failed", exc) from None
        try:
            body = resp.json()
        except ValueError:
            body = {}
        if resp.status_code != 200 or not isinstance(body, dict) or not body.get("ok"):
            params = body.get("parameters") if isinstance(body, dict) else None
            retry = params.get("retry_after") if isinstance(params, dict) else None
            described = str(body.get("description", ""))[:200] if isinstance(body, dict) else ""
            raise ChannelError(f"telegram {method}: HTTP {resp.status_code} {described}".strip(),
                               float(retry) if isinstance(retry, int | float) else None)
        return body.get("result")

    def send(self, text: str) -> None:
        self._call(self._session, "sendMessage", {"chat_id": self.chat_id, "text": text[:4096]}, self.timeout)

    def reply(self, chat_id: int, text: str) -> None:
        self._call(self._session, "sendMessage", {"chat_id": chat_id, "text": text[:4096]}, self.timeout)

    def get_updates(self, offset: int, poll_seconds: float) -> list[Update]:
        """Updates from ``offset`` on (confirming the earlier ones), waiting up to ``poll_seconds`` for one."""
        result = self._call(self._poll_session, "getUpdates",
                            {"offset": offset, "timeout": int(poll_seconds), "allowed_updates": ["message"]},
                            self.timeout + poll_seconds)
        out: list[Update] = []
        for raw in result if isinstance(result, list) else []:
            if not isinstance(raw, dict) or not isinstance(raw.get("update_id"), int):
                continue
            message: dict[str, Any] = raw["message"] if isinstance(raw.get("message"), dict) else {}
            chat: dict[str, Any] = message["chat"] if isinstance(message.get("chat"), dict) else {}
            text, chat_id, date = message.get("text"), chat.get("id"), message.get("date")
            out.append(Update(raw["update_id"], chat_id if isinstance(chat_id, int) else 0,
                              text if isinstance(text, str) else "", date if isinstance(date, int) else 0))
        return out

    def close(self) -> None:
        self._session.close()
        self._poll_session.close()


class WebhookClient:
    """POSTs ``{"content": text, "text": text}``: Discord reads ``content``, Slack and most others ``text``."""

    name = "webhook"

    def __init__(self, url: str, *, timeout: float = 5.0) -> None:
        register(url)
        register_url(url)
        path = url.split("://", 1)[-1].partition("/")[2]
        register("/" + path if len(path) >= 6 else None)  # a webhook's path is its secret (Discord: id/token)
        self._url = url
        self.timeout = timeout
        self._session = requests.Session()

    def send(self, text: str) -> None:
        try:
            resp = self._session.post(self._url, json={"content": text[:2000], "text": text}, timeout=self.timeout)
        except requests.RequestException as exc:
            raise _error("webhook post failed", exc) from None
        if resp.status_code >= 300:
            retry = resp.headers.get("Retry-After")
            try:
                after = float(retry) if retry else None
            except ValueError:
                after = None
            raise ChannelError(f"webhook: HTTP {resp.status_code}", after)

    def close(self) -> None:
        self._session.close()
