"""Customer conversations for the load and crash benchmarks: realistic, varied, reproducible.

Each chat gets its own script, drawn with a seed from a mix of what customers of an exchange
write: P1 theft and locked accounts, stuck withdrawals, missing deposits, fee and limit
questions, sign-in trouble and plain greetings. Coins, amounts, networks, account ids, times
and wording vary per chat, so no two chats send the same conversation.
"""
from __future__ import annotations

import random

COINS = [("BTC", "Bitcoin", "0.42"), ("USDT", "TRC20", "1500"), ("ETH", "ERC20", "2.5"), ("USDC", "Solana", "800"),
         ("SOL", "Solana", "35"), ("USDT", "BEP20", "320"), ("XRP", "XRP Ledger", "2200"), ("LTC", "Litecoin", "12")]
WHEN = ["yesterday around 3pm", "this morning", "two hours ago", "last night at 11", "on Monday",
        "about 40 minutes ago"]
WALLETS = ["my ledger wallet", "Binance", "my metamask", "Kraken", "a friend's wallet", "my trezor"]
HELLO = ["hi", "hello", "hey there", "good morning", "hello, anyone there?", "hi support"]
THANKS = ["thanks", "thank you", "ok thanks", "thx", "thanks a lot"]
BYE = ["bye", "goodbye", "that's all, bye", "ok bye"]

THEFT = [
    "someone logged into my account and withdrew all my {coin}, it wasn't me",
    "my account was hacked, {amount} {coin} is gone and I did not make that withdrawal",
    "I got a login alert from a device I don't know and now my {coin} balance is zero",
    "help, somebody stole my {coin}!! {amount} {coin} withdrawn to an address I never saw",
    "my funds were stolen, there is a withdrawal of {amount} {coin} I never made",
]
LOCKED = ["my account is frozen and I can't withdraw anything", "account locked after I changed my phone, please help",
          "why is my account disabled? I can't log in or trade"]
WITHDRAWAL = [
    "my {amount} {coin} withdrawal is stuck",
    "withdrawal of {amount} {coin} still pending since {when}",
    "I withdrew {coin} {when} and it never arrived in my wallet",
    "my {coin} withdrawal says processing for hours, where is it?",
]
DEPOSIT = ["my {coin} deposit has not arrived",
           "I sent {amount} {coin} to my deposit address {when} and it's not credited",
           "deposit missing, {coin} on {network}"]
FEES = ["what are the withdrawal fees for {coin}?", "how much does it cost to withdraw {coin} on {network}",
        "what are your trading fees", "daily withdrawal limit?", "what's the minimum deposit for {coin}"]
LOGIN = ["my authenticator codes are always rejected", "I can't log in, it says wrong password but it's right",
         "never got the email code to sign in"]
SMALL_TALK = ["are you a robot?", "can I talk to a human", "should I buy {coin} now", "what can you do?"]


def _fill(rng: random.Random, template: str, coin: tuple[str, str, str]) -> str:
    amount = coin[2] if rng.random() < 0.5 else f"{float(coin[2]) * rng.choice([0.3, 1.7, 4.0]):g}"
    return template.format(coin=coin[0], network=coin[1], amount=amount, when=rng.choice(WHEN))


def script(chat: int, seed: int = 2024) -> list[str]:
    """The conversation chat number ``chat`` plays, 3 to 8 messages."""
    opener, lines = _draw(chat, seed)
    return opener + lines


def _draw(chat: int, seed: int) -> tuple[list[str], list[str]]:
    rng = random.Random(seed * 100_003 + chat)
    coin = rng.choice(COINS)
    uid = str(rng.randrange(10_000_000, 999_999_999))
    opener = [rng.choice(HELLO)] if rng.random() < 0.4 else []
    kind = rng.choices(["theft", "withdrawal", "fees", "greeting", "deposit", "locked", "login"],
                       weights=[20, 25, 20, 15, 10, 5, 5])[0]
    fill = lambda template: _fill(rng, template, coin)  # noqa: E731
    if kind == "theft":
        lines = [fill(rng.choice(THEFT)), f"my uid is {uid}", coin[0], fill("{amount}"), "no", rng.choice(THANKS)]
    elif kind == "withdrawal":
        lines = [fill(rng.choice(WITHDRAWAL)), f"uid {uid}", f"it was the {coin[1]} network", rng.choice(WHEN),
                 "I don't know", rng.choice(WALLETS), "yes"]
    elif kind == "fees":
        lines = [fill(rng.choice(FEES)), rng.choice(["yes", "no", "not really"]), rng.choice(THANKS), rng.choice(BYE)]
    elif kind == "greeting":
        lines = [rng.choice(HELLO), fill(rng.choice(SMALL_TALK)), rng.choice(THANKS), rng.choice(BYE)]
        opener = []
    elif kind == "deposit":
        lines = [fill(rng.choice(DEPOSIT)), f"{uid}", coin[0], coin[1], fill("{amount}"), rng.choice(WHEN)]
    elif kind == "locked":
        lines = [rng.choice(LOCKED), f"my account id is {uid}", "I want to talk to a real person"]
    else:
        lines = [rng.choice(LOGIN), "no", f"uid {uid}", "on my iphone", rng.choice(THANKS)]  # "no": not solved
    return opener, lines


def p1_message(index: int) -> str:
    """A theft report, worded per ``index``: the message whose alert latency is measured."""
    rng = random.Random(7 + index)
    coin = COINS[index % len(COINS)]
    return _fill(rng, THEFT[index % len(THEFT)], coin)


def first_messages(count: int, seed: int = 99) -> list[str]:
    """What ``count`` different chats write first (the crash burst): their script's issue, without a hello."""
    return [_draw(chat, seed)[1][0] for chat in range(count)]
