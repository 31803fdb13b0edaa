"""A terminal chat over the REST webhook of an already running stack.

`rasa shell` would load a second copy of the model (about 45 s); this talks to the server that
`make run` started, as any sender, so a developer can be a demo customer in a second.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

import requests


def _render(message: dict) -> str:
    lines = [message.get("text") or ""]
    for number, button in enumerate(message.get("buttons") or [], start=1):
        lines.append(f"  [{number}] {button.get('title')}")
    if message.get("image"):
        lines.append(f"  (image: {message['image']})")
    return "\n".join(line for line in lines if line)


def chat(env: Mapping[str, str], sender: str, token: str | None = None) -> int:
    """Chat as ``sender``; with a customer token, as that customer."""
    url = f"http://{env['RASA_HOST']}:{env['RASA_PORT']}/webhooks/rest/webhook"
    who = "a signed-in customer" if token else "an anonymous visitor"
    print(f"Chatting as {who} with {url}. Type /stop or press Ctrl-D to leave.")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    buttons: list[dict] = []
    while True:
        try:
            text = input("you> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if text == "/stop":
            return 0
        if text.isdigit() and 0 < int(text) <= len(buttons):
            text = buttons[int(text) - 1]["payload"]
        try:
            reply = requests.post(
                url, json={"sender": sender, "message": text}, headers=headers, timeout=30
            )
            reply.raise_for_status()
        except requests.RequestException as exc:
            print(f"cannot reach the bot ({exc}); is `make run` running?", file=sys.stderr)
            return 1
        buttons = []
        for message in reply.json():
            buttons.extend(message.get("buttons") or [])
            print(f"bot> {_render(message)}")
