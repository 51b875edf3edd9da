"""``make chat``: talk to the running bot from a terminal through the REST channel.

Buttons are shown as numbered choices (type the number); agents' replies arrive while
you wait, because the chat polls the REST mailbox every two seconds. The server names the
conversation on the first message; the chat keeps its id and secret for the session.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.runtime.configuration import load_env_file
from bot.runtime.server_settings import Ports

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


@dataclass
class Conversation:
    """The id and secret the server issued on the first message (None until then)."""

    conversation_id: str | None = None
    secret: str = ""

    def body(self, text: str) -> dict[str, str]:
        return {"message": text} if self.conversation_id is None else {"message": text, "sender": self.conversation_id}

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret}"} if self.secret else {}

    def keep(self, response: aiohttp.ClientResponse) -> None:
        if self.conversation_id is None and "X-Conversation-Id" in response.headers:
            self.conversation_id = response.headers["X-Conversation-Id"]
            self.secret = response.headers["X-Conversation-Secret"]


async def poll_agent_messages(session: aiohttp.ClientSession, base: str, conversation: Conversation) -> None:
    while True:
        await asyncio.sleep(POLL_SECONDS)
        if conversation.conversation_id is None:
            continue
        params = {"sender": conversation.conversation_id}
        async with session.get(f"{base}/messages", params=params, headers=conversation.headers()) as response:
            if response.status == 200:
                render(await response.json())


async def chat(base: str) -> None:
    loop = asyncio.get_running_loop()
    conversation = Conversation()
    async with aiohttp.ClientSession() as session:
        poller = asyncio.create_task(poll_agent_messages(session, base, conversation))
        payloads: list[str] = []
        print("Type a message; Ctrl+D to quit.")
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
                async with session.post(
                    f"{base}/webhook", json=conversation.body(text), headers=conversation.headers()
                ) as response:
                    conversation.keep(response)
                    body = await response.json()
                if response.status != 200:
                    print(f"error> {body.get('error', response.status)}")
                    continue
                payloads = render(body)
        finally:
            poller.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    rasa_port = Ports.from_env().rasa
    parser.add_argument("--url", default=f"http://127.0.0.1:{rasa_port}/webhooks/rest", help="REST channel base URL")
    args = parser.parse_args()
    asyncio.run(chat(args.url.rstrip("/")))


if __name__ == "__main__":
    load_env_file()
    main()
