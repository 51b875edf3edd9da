"""The start-up check for ports another program holds, against real sockets on loopback."""

from __future__ import annotations

import socket

from bot.runtime.free_ports import taken_ports
from bot.runtime.server_settings import Ports
from tests.auxil.rasa_stack import free_port


def test_a_port_another_program_listens_on_is_named_by_its_setting():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        held = holder.getsockname()[1]
        ports = Ports(rasa=free_port(), actions=free_port(), desk=held, rasa_host="127.0.0.1")
        assert taken_ports(ports) == [
            f"DESK_PORT: 127.0.0.1:{held} is already in use by another program (stop it, or choose another port)"
        ]
        second = Ports(rasa=held - 1, actions=free_port(), desk=free_port(), rasa_host="127.0.0.1", rasa_instances=2)
        assert "RASA_PORT + 1 (RASA_INSTANCES)" in [line.split(":")[0] for line in taken_ports(second)]
    assert taken_ports(Ports(rasa=free_port(), actions=free_port(), desk=held, rasa_host="127.0.0.1")) == []
