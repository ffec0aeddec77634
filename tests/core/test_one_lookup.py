"""One council lookup everywhere: every name and alias the register knows finds the same council
(or, when two councils share it, none) on the web (`/la/<name>`), the command line
(`sendwatch subscribe … --la`), the bot (`/subscribe`) and so the alert filters (what each
subscription stores is what it is matched by)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from click.testing import CliRunner

from app.cli import cli
from storage import outbox
from storage.las import LocalAuthority, register
from storage.store import Store
from tests.alerts.telegram_standin import TelegramStandIn, bot_process, running
from tests.paths import served


def _names() -> dict[str, LocalAuthority | None]:
    """Every name and alias the register knows, and the one council it belongs to (None for a
    name two councils share: "Kingston", "Northamptonshire")."""
    owners: dict[str, set[LocalAuthority]] = {}
    for la in register():
        for name in (la.name, *la.aliases, *la.qualified_aliases):
            owners.setdefault(name, set()).add(la)
    return {name: next(iter(las)) if len(las) == 1 else None for name, las in owners.items()}


NAMES = _names()


def test_the_register_knows_shared_and_unshared_names() -> None:
    assert len(NAMES) > 190
    assert NAMES["Richmond"] is not None and NAMES["Richmond"].name == "Richmond upon Thames"
    assert NAMES["Hull"] is not None and NAMES["Hull"].name == "Kingston upon Hull"
    assert NAMES["Kingston"] is None  # Hull's and Thames'


def _web(base: str, name: str) -> str | None:
    """The council `/la/<name>` opens (its slug), or None for a 404."""
    answer = httpx.get(f"{base}/la/{quote(name, safe='')}", follow_redirects=False)
    if answer.status_code == 308:
        return answer.headers["location"].removeprefix("/la/")
    if answer.status_code == 200:
        return next(la.slug for la in register() if f"<h1>{la.name}</h1>" in answer.text)
    assert answer.status_code == 404, (name, answer.status_code)
    return None


def test_every_name_finds_the_same_council_on_the_web_and_the_command_line(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    runner = CliRunner()
    env = {
        k: v for k, v in os.environ.items() if k.startswith("SENDWATCH_TEST_") or k == "PATH"
    } | {"SENDWATCH_DATABASE_URL": database_url, "SENDWATCH_DATA_DIR": str(tmp_path / "data")}
    web: dict[str, str | None] = {}
    with served(tmp_path, database_url) as base:
        for name in NAMES:
            web[name] = _web(base, name)
    for index, (name, owner) in enumerate(NAMES.items()):
        address = f"reader{index}@example.org"
        result = runner.invoke(cli, ["subscribe", "email", address, "--la", name], env=env)
        subscription = outbox.subscription(store, "email", address)
        cli_code = subscription.la_codes[0] if subscription and subscription.la_codes else None
        expected = owner.ons_code if owner else None
        assert cli_code == expected, (name, result.output, result.stderr)
        assert (result.exit_code == 0) is (owner is not None), (name, result.stderr)
        assert web[name] == (owner.slug if owner else None), name


@pytest.fixture
def bot(tmp_path: Path, database_url: str) -> Iterator[TelegramStandIn]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
    env |= {"SENDWATCH_DATABASE_URL": database_url, "SENDWATCH_DATA_DIR": str(tmp_path / "data")}
    with running() as standin, bot_process(standin, env, tmp_path, tmp_path / "bot.log"):
        yield standin


def test_every_name_finds_the_same_council_through_the_bot(
    bot: TelegramStandIn, store: Store
) -> None:
    chats = {name: 5000 + index for index, name in enumerate(NAMES)}
    for name, chat in chats.items():
        bot.say(chat, f"/subscribe {name}")
    for name, chat in chats.items():
        owner = NAMES[name]
        (reply,) = bot.wait_for(chat, 1, timeout=60)
        subscription = outbox.subscription(store, "telegram", str(chat))
        if owner is None:
            assert reply.startswith("I don't know"), (name, reply)
            assert subscription is None, name
        else:
            assert reply.startswith(f"Subscribed: {owner.name}."), (name, reply)
            assert subscription is not None and subscription.la_codes == [owner.ons_code], name
