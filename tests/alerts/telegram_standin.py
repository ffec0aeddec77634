"""A local stand-in for the Telegram Bot API on 127.0.0.1, for python-telegram-bot's `base_url`.

It records every sendMessage, serves queued updates to getUpdates (so the bot's
commands are driven for real), and can answer 429 (with retry_after) or 403 (bot
blocked) for chosen chats. Like Telegram, it answers 400 to a text over 4096 characters,
and 401 Unauthorized to any other token than TOKEN (python-telegram-bot then raises
InvalidToken, quoting the token).
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from tests.paths import COMMAND

TOKEN = "123456:TEST-token-not-real"
#: Telegram's limit on a message's text (UTF-16 code units, as Telegram counts).
MAX_TEXT = 4096
BOT = {
    "id": 123456,
    "is_bot": True,
    "first_name": "sendwatch",
    "username": "sendwatch_test_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}


@dataclass
class TelegramStandIn:
    sent: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    #: chat id -> answers to give before accepting (e.g. [429]); 403 for blocked chats.
    refuse: dict[int, list[int]] = field(default_factory=dict)
    blocked: set[int] = field(default_factory=set)
    calls: list[str] = field(default_factory=list)
    #: The parameters of the last call of each method (setWebhook's url and secret, say).
    last: dict[str, dict[str, Any]] = field(default_factory=dict)
    base_url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)
    _next_update: int = 1

    def say(self, chat_id: int, text: str) -> None:
        """Queue a message from a user, as Telegram would deliver it to the bot."""
        with self.lock:
            update_id = self._next_update
            self._next_update += 1
            entities = []
            if text.startswith("/"):
                entities = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
            self.updates.append(
                {
                    "update_id": update_id,
                    "message": {
                        "message_id": update_id,
                        "date": int(time.time()),
                        "chat": {"id": chat_id, "type": "private", "first_name": "Parent"},
                        "from": {"id": chat_id, "is_bot": False, "first_name": "Parent"},
                        "text": text,
                        "entities": entities,
                    },
                }
            )

    def to(self, chat_id: int) -> list[str]:
        with self.lock:
            return [m["text"] for m in self.sent if int(m["chat_id"]) == chat_id]

    def wait_for(self, chat_id: int, count: int, timeout: float = 20.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.to(chat_id)) >= count:
                return self.to(chat_id)
            time.sleep(0.05)
        raise AssertionError(f"chat {chat_id} got {self.to(chat_id)}, wanted {count} messages")

    def handle(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.calls.append(method)
        self.last[method] = params
        if method == "getMe":
            return 200, {"ok": True, "result": BOT}
        if method == "getUpdates":
            offset = int(params.get("offset") or 0)
            with self.lock:
                pending = [u for u in self.updates if u["update_id"] >= offset]
            if not pending:
                time.sleep(0.2)
            return 200, {"ok": True, "result": pending}
        if method == "sendMessage":
            chat_id = int(params["chat_id"])
            if len(str(params.get("text", "")).encode("utf-16-le")) // 2 > MAX_TEXT:
                return 400, {
                    "ok": False,
                    "error_code": 400,
                    "description": "Bad Request: message is too long",
                }
            with self.lock:
                queue = self.refuse.get(chat_id, [])
                status = queue.pop(0) if queue else (403 if chat_id in self.blocked else 200)
            if status == 429:
                return 429, {
                    "ok": False,
                    "error_code": 429,
                    "description": "Too Many Requests: retry after 1",
                    "parameters": {"retry_after": 1},
                }
            if status == 403:
                return 403, {
                    "ok": False,
                    "error_code": 403,
                    "description": "Forbidden: bot was blocked by the user",
                }
            with self.lock:
                self.sent.append(params)
                message_id = len(self.sent)
            return 200, {
                "ok": True,
                "result": {
                    "message_id": message_id,
                    "date": int(time.time()),
                    "chat": {"id": chat_id, "type": "private"},
                    "from": BOT,
                    "text": params.get("text", ""),
                },
            }
        return 200, {"ok": True, "result": True}


def _handler(standin: TelegramStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8")
            if self.headers.get("Content-Type", "").startswith("application/json"):
                params = json.loads(body or "{}")
            else:
                params = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
            prefix = f"/bot{TOKEN}/"
            if not self.path.startswith(prefix):
                status, answer = (
                    401,
                    {"ok": False, "error_code": 401, "description": "Unauthorized"},
                )
            else:
                status, answer = standin.handle(self.path.removeprefix(prefix), params)
            payload = json.dumps(answer).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def running(standin: TelegramStandIn | None = None) -> Iterator[TelegramStandIn]:
    standin = standin or TelegramStandIn()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(standin))
    server.daemon_threads = True
    standin.base_url = f"http://127.0.0.1:{server.server_address[1]}/bot"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield standin
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def bot_process(
    standin: TelegramStandIn, env: dict[str, str], cwd: Path, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """`sendwatch bot` polling `standin`, with `env` (the store's settings) and Telegram on,
    its output in `log`, until the block ends."""
    bot_env = {k: v for k, v in env.items()} | {
        "SENDWATCH_TELEGRAM_ENABLED": "true",
        "SENDWATCH_TELEGRAM_BASE_URL": standin.base_url,
        "SENDWATCH_TELEGRAM_TOKEN": TOKEN,
    }
    with log.open("w") as handle:
        process = subprocess.Popen(
            [*COMMAND, "bot"], env=bot_env, cwd=cwd, stdout=handle, stderr=handle
        )
        try:
            yield process
        finally:
            process.terminate()
            process.wait(timeout=15)
