"""``python -m bot.runtime.launch rasa run …``: Rasa's own command line, with our logging and metrics first.

The Rasa server and the action server are Rasa's programs; this starts them the same way
``rasa`` does, with a shorter thread switch interval (``thread_switching``), after the
record factory that keeps tokens out of their logs is installed,
with the process named in every log line, and with multiprocess metrics when Sanic will
fork several workers (``bot.metrics.workers``). In the Rasa server it also installs
bounded and retried action calls (``action_calls``), a table of event classes
(``event_types``) and the NLU parse off the event loop (``parse_off_loop``), in a child process on the
model of ``--model`` when ``RASA_NLU_PROCESS`` says so, started before this process imports Rasa so
the two load side by side; in the action server, the metrics route and per-call counting
(``action_server``).

With ``--logging-config-file``, that configuration is applied at once (so warnings and
lines logged while Rasa imports are formatted too; Rasa applies it again), and Rasa's and
rasa_sdk's coloredlogs set-up, which would replace the configured handler, is skipped.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bot.metrics import workers
from bot.runtime import early_imports, log_secrets, logs
from bot.runtime.thread_switching import switch_threads_sooner

if TYPE_CHECKING:
    from bot.runtime.nlu_process import NluProcess

LOGGING_FLAG = "--logging-config-file"
# The Rasa server's channels take small JSON bodies (REST 64 KB, a Telegram update or an X event
# some KB): Sanic refuses a larger body (413) from its Content-Length, before reading it, where
# its default of 100 MB let anyone without the webhook's secret fill the server's memory.
REQUEST_MAX_BYTES = 1024 * 1024


def main() -> None:
    """Install masking, logging and metrics set-up, then hand ``argv`` (starting with ``rasa``) to Rasa's CLI."""
    if len(sys.argv) < 2 or sys.argv[1] != "rasa":
        raise SystemExit("usage: python -m bot.runtime.launch rasa <rasa arguments>")
    switch_threads_sooner()
    log_secrets.install()
    logs.log_format()  # a wrong LOG_FORMAT stops here: Rasa would skip a logging file that fails
    action_server = sys.argv[2:4] == ["run", "actions"]
    process = "actions" if action_server else "rasa"
    logs.set_service(process)
    workers.use_worker_files(workers.sanic_workers(process))  # before anything imports prometheus_client
    given = _given(sys.argv[2:])
    if given.logging_config is not None:
        logs.configure(Path(given.logging_config))
        _keep_configured_handlers()
    serving = not action_server and sys.argv[2:3] == ["run"] and not given.help
    # started first, so the child imports and loads on the other core while this process does
    nlu_child = _started_nlu_child(process, given) if serving else None
    if not action_server:
        early_imports.import_before_tensorflow()  # a model load seconds faster (early_imports)
    from rasa.__main__ import main as rasa_main  # imported after masking: Rasa logs while importing

    if action_server:
        from bot.runtime import action_server as extensions

        extensions.install()  # the action server: /metrics, calls counted, request ids
    elif serving:
        from bot.runtime import action_calls, event_types, parse_off_loop

        os.environ.setdefault("SANIC_REQUEST_MAX_SIZE", str(REQUEST_MAX_BYTES))  # read when Rasa makes its app
        action_calls.install()  # the Rasa server: bounded, retried calls to the action server
        event_types.install()  # and event classes looked up in a table
        parse_off_loop.install(nlu_child)  # and the NLU parse off the event loop, in the child while it can

    sys.argv = sys.argv[1:]
    rasa_main()


def _given(arguments: list[str]) -> argparse.Namespace:
    """``model``, ``logging_config`` and ``help`` of Rasa's arguments, read before Rasa is imported.

    Read with argparse, as Rasa's own parser reads them (abbreviations such as ``--mod`` too), so
    ``--model=PATH`` and ``-mPATH`` name the model ``rasa run`` will load; everything else, and a
    wrong command line, is Rasa's to read and report.
    """
    parser = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    parser.add_argument("-m", "--model")
    parser.add_argument(LOGGING_FLAG, dest="logging_config")
    parser.add_argument("-h", "--help", action="store_true")
    try:
        return parser.parse_known_args(arguments)[0]
    except argparse.ArgumentError:
        return argparse.Namespace(model=None, logging_config=None, help=True)  # Rasa exits with the usage


def _started_nlu_child(process: str, given: argparse.Namespace) -> NluProcess | None:
    """The Rasa server's child NLU process, started, if ``RASA_NLU_PROCESS`` wants one and Sanic forks no workers.

    Forked workers would share its pipe; they use the cores themselves anyway.
    """
    from bot.runtime.nlu_process import NluProcess
    from bot.runtime.server_settings import nlu_in_child_process

    if not nlu_in_child_process() or workers.sanic_workers(process) != 1 or (model := _model(given.model)) is None:
        return None
    child = NluProcess(model, Path(given.logging_config) if given.logging_config else None)
    child.start()
    return child


def _model(given: str | None) -> Path | None:
    """The model file ``rasa run`` loads (the newest in ``models/`` without ``--model``), None if there is none."""
    from rasa.exceptions import ModelNotFound
    from rasa.model import get_local_model

    try:
        return Path(get_local_model(given or "models"))
    except ModelNotFound:
        return None  # Rasa says so itself


def _keep_configured_handlers() -> None:
    import rasa.utils.io
    import rasa_sdk.utils

    def configured_elsewhere(*_: object) -> None:
        """The logging file already set the handlers up."""

    rasa.utils.io.configure_colored_logging = configured_elsewhere  # type: ignore[assignment]
    rasa_sdk.utils.configure_colored_logging = configured_elsewhere  # type: ignore[assignment]


if __name__ == "__main__":
    main()
