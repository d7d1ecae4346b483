"""Local stand-ins for the notification endpoints, for tests and the demo (loopback only).

- :class:`BotApiServer`: a Telegram Bot API server speaking the real routes and JSON shapes —
  ``/bot<token>/sendMessage`` (JSON or form body), ``/bot<token>/getUpdates`` (``offset``, ``timeout`` long poll,
  confirmed updates dropped), ``/bot<token>/getMe``; a wrong token is ``401 Unauthorized`` as on the real server.
  Tests push user messages with :meth:`BotApiServer.push_text` and read what the bot sent in ``sent``.
- :class:`WebhookReceiver`: records every JSON POST (Discord/Slack-style ``{"content": ..., "text": ...}``).
Both can be told to fail (``fail_with = 500`` / ``429``) to test that the bot survives a dead endpoint.
"""

from devkit.botapi.server import BotApiServer, SentMessage, WebhookReceiver

__all__ = ["BotApiServer", "SentMessage", "WebhookReceiver"]
