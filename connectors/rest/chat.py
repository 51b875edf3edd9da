"""``make chat``: talk to the running bot from a terminal through the REST channel.

Buttons are shown as numbered choices (type the number); agents' replies arrive while
you wait, because the chat polls the REST mailbox every two seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from typing import Any

import aiohttp

POLL_SECONDS = 2.0


def render(messages: list[dict[str, Any]]) -> list[str]:
    """Print the bot's messages; return the payloads of the buttons just shown."""
    payloads: list[str] = []
    for message in messages:
        author = message.get("author", "bot")
        if message.get("text"):
            print(f"{author}> {message['text']}")
        for button in message.get("buttons") or []:
            payloads.append(button["payload"])
            print(f"   {len(payloads)}. {button['title']}")
    return payloads


async def poll_agent_messages(session: aiohttp.ClientSession, base: str, sender: str) -> None:
    while True:
        await asyncio.sleep(POLL_SECONDS)
        async with session.get(f"{base}/messages", params={"sender": sender}) as response:
            if response.status == 200:
                render(await response.json())


async def chat(base: str, sender: str) -> None:
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession() as session:
        poller = asyncio.create_task(poll_agent_messages(session, base, sender))
        payloads: list[str] = []
        print(f"Chatting as {sender!r}. Type a message; Ctrl+D to quit.")
        try:
            while True:
                line = await loop.run_in_executor(None, sys.stdin.readline)
                if not line:
                    break
                text = line.strip()
                if not text:
                    continue
                if text.isdigit() and 0 < int(text) <= len(payloads):
                    text = payloads[int(text) - 1]
                async with session.post(f"{base}/webhook", json={"sender": sender, "message": text}) as response:
                    body = await response.json()
                if response.status != 200:
                    print(f"error> {body.get('error', response.status)}")
                    continue
                payloads = render(body)
        finally:
            poller.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:5005/webhooks/rest", help="REST channel base URL")
    parser.add_argument("--sender", default=f"local-{getpass.getuser()}", help="conversation id")
    args = parser.parse_args()
    asyncio.run(chat(args.url.rstrip("/"), args.sender))


if __name__ == "__main__":
    main()
