"""``python -m devkit.botapi [--token T] [--port N] [--chat ID]``: run the local Telegram Bot API server and a
webhook receiver on loopback and print what the bot sends; type ``/pause`` etc. on stdin to send it as chat ``ID``.

Point a bot at it with ``notify.telegram.api_base: http://127.0.0.1:N`` (and ``notify.webhook`` at the printed URL)."""

from __future__ import annotations

import argparse
import sys
import threading
import time

from devkit.botapi import BotApiServer, WebhookReceiver


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devkit.botapi", description=__doc__)
    parser.add_argument("--token", default="123456:local-dev-token")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--chat", type=int, default=1)
    args = parser.parse_args(argv)
    with BotApiServer(args.token, args.port) as telegram, WebhookReceiver() as hook:
        print(f"telegram api_base: {telegram.api_base} (token {args.token}, chat {args.chat})", flush=True)
        print(f"webhook url: {hook.url('/hook')}", flush=True)

        def read_stdin() -> None:
            for line in sys.stdin:
                if line.strip():
                    telegram.push_text(args.chat, line.strip())

        threading.Thread(target=read_stdin, daemon=True).start()
        seen = 0
        try:
            while True:
                time.sleep(0.3)
                texts = telegram.texts()
                for text in texts[seen:]:
                    print(f"[telegram] {text}", flush=True)
                seen = len(texts)
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":
    sys.exit(main())
