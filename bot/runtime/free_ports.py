"""Before ``make run`` starts anything: is each port it will listen on free?

A port another program holds made the desk print a traceback and restart forever, and Rasa
load its model for 90 s, fail, exit 0 and start over. One line naming the setting is better.
"""

from __future__ import annotations

import errno
import socket

from bot.runtime.server_settings import Ports


def taken_ports(ports: Ports) -> list[str]:
    """One line for each port of ``ports`` that something else already listens on, naming its setting."""
    wanted = [(f"RASA_PORT{'' if i == 0 else f' + {i} (RASA_INSTANCES)'}", ports.rasa_host, port)
              for i, port in enumerate(ports.rasa_ports)]  # fmt: skip
    wanted += [("ACTIONS_PORT", ports.actions_host, ports.actions), ("DESK_PORT", ports.desk_host, ports.desk)]
    return [
        f"{name}: {host}:{port} is already in use by another program (stop it, or choose another port)"
        for name, host, port in wanted
        if _in_use(host, port)
    ]


def _in_use(host: str, port: int) -> bool:
    """Bind as the servers will (address reuse on, so a socket in TIME_WAIT does not count)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            return error.errno == errno.EADDRINUSE
    return False
