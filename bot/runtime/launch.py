"""``python -m bot.runtime.launch rasa run …``: Rasa's own command line, with log masking first.

The Rasa server and the action server are Rasa's programs; this starts them the same way
``rasa`` does, after the record factory that keeps tokens out of their logs is installed
(and, in the Rasa server, bounded and retried action calls: ``action_calls``).
"""

from __future__ import annotations

import sys

from bot.runtime import log_secrets


def main() -> None:
    """Install masking, then hand ``argv`` (starting with ``rasa``) to Rasa's CLI."""
    if len(sys.argv) < 2 or sys.argv[1] != "rasa":
        raise SystemExit("usage: python -m bot.runtime.launch rasa <rasa arguments>")
    log_secrets.install()
    from rasa.__main__ import main as rasa_main  # imported after masking: Rasa logs while importing

    if sys.argv[2:3] == ["run"] and "actions" not in sys.argv[3:4]:
        from bot.runtime import action_calls

        action_calls.install()  # the Rasa server: bounded, retried calls to the action server

    sys.argv = sys.argv[1:]
    rasa_main()


if __name__ == "__main__":
    main()
