"""The bot's replies stay within Telegram's 4096 characters, and a failing reply reaches the
admin chats at most once an hour per kind of error, against the local Bot API stand-in
(which, like Telegram, answers 400 to a longer text)."""

from __future__ import annotations

import time

from alerts.telegram import fit_message
from tests.alerts.telegram_standin import MAX_TEXT, TelegramStandIn
from tests.alerts.test_telegram import ADMIN
from tests.alerts.test_telegram import bot as bot
from tests.alerts.test_telegram import standin as standin


def test_a_long_echo_is_cut_short_not_refused(bot: TelegramStandIn) -> None:
    chat = 211
    bot.say(chat, "/subscribe " + "<Bexly>&" * 500)  # 4,011 characters, under the limit
    (reply,) = bot.wait_for(chat, 1)
    assert reply.startswith("I don't know &lt;Bexly&gt;&amp;")
    assert len(reply) < 1000
    time.sleep(0.5)
    assert bot.to(ADMIN) == []  # nothing failed, so nothing was relayed


def test_a_failing_reply_is_told_to_the_admins_once(bot: TelegramStandIn) -> None:
    chat = 212
    bot.blocked.add(chat)  # every reply to this chat fails with 403
    for _ in range(4):
        bot.say(chat, "/help")
    notices = bot.wait_for(ADMIN, 1)
    assert notices[0].startswith("sendwatch bot error: Forbidden")
    bot.say(213, "/help")  # a later update, handled after the four failures
    bot.wait_for(213, 1)
    time.sleep(0.5)
    assert len(bot.to(ADMIN)) == 1


def test_fit_message_keeps_short_html_and_cuts_long_text_as_plain() -> None:
    assert fit_message("<b>short</b>") == ("<b>short</b>", True)
    text, is_html = fit_message("<b>" + "é🎒" * 3000 + "</b>")
    assert not is_html and text.endswith("…") and "<b>" not in text
    assert len(text.encode("utf-16-le")) // 2 <= MAX_TEXT
