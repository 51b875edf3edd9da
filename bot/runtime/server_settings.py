"""Where the three processes listen, and how the Rasa server reaches the action server."""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from bot.environment import EnvReader, reading

HIGHEST_PORT = 65535


def _port(read: EnvReader, name: str, default: int) -> int:
    return read.integer(name, default, minimum=1, maximum=HIGHEST_PORT)


@dataclass(frozen=True)
class Ports:
    """Where each process listens. Only Rasa's port (the channels' webhooks) is meant to be public.

    The action server runs actions on whatever tracker it is sent, so it stays on loopback
    unless ``ACTIONS_HOST`` says otherwise (a multi-host deployment on a private network).
    """

    rasa: int
    actions: int
    desk: int
    rasa_host: str = "0.0.0.0"
    actions_host: str = "127.0.0.1"
    desk_host: str = "127.0.0.1"
    cors_origins: tuple[str, ...] = ()
    rasa_instances: int = 1  # more Rasa servers on the ports after `rasa`, sharing the channels' work

    @property
    def rasa_ports(self) -> range:
        """The port of each Rasa server: ``RASA_PORT``, then the next ones for ``RASA_INSTANCES`` > 1."""
        return range(self.rasa, self.rasa + self.rasa_instances)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Ports:
        """Read ``RASA_*``, ``ACTIONS_*``, ``DESK_PORT`` and ``REST_CORS_ORIGINS``."""
        with reading(env) as read:
            return cls(
                rasa_instances=read.integer("RASA_INSTANCES", 1, minimum=1, maximum=64),
                rasa=_port(read, "RASA_PORT", 5005),
                actions=_port(read, "ACTIONS_PORT", 5055),
                desk=_port(read, "DESK_PORT", 8080),
                rasa_host=read.text("RASA_HOST", "0.0.0.0"),
                actions_host=read.text("ACTIONS_HOST", "127.0.0.1"),
                desk_host=read.text("DESK_HOST", "127.0.0.1"),
                cors_origins=read.items("REST_CORS_ORIGINS"),
            )


@dataclass(frozen=True)
class ActionServerSettings:
    """The Rasa server's calls to the action server: where, how long each may take, how long to retry.

    ``endpoint_url`` defaults to the action server of this host (``ACTIONS_PORT``); a deployment
    with the action server elsewhere sets ``ACTION_ENDPOINT_URL``.
    """

    endpoint_url: str
    timeout_seconds: float = 30.0
    retry_seconds: float = 30.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ActionServerSettings:
        """Read ``ACTION_ENDPOINT_URL``, ``ACTION_TIMEOUT_SECONDS`` and ``ACTION_RETRY_SECONDS``."""
        with reading(env) as read:
            local = f"http://127.0.0.1:{_port(read, 'ACTIONS_PORT', 5055)}/webhook"
            return cls(
                endpoint_url=read.url("ACTION_ENDPOINT_URL", schemes=("http", "https")) or local,
                timeout_seconds=read.number("ACTION_TIMEOUT_SECONDS", 30.0, positive=True),
                retry_seconds=read.number("ACTION_RETRY_SECONDS", 30.0, minimum=0.0),
            )


def nlu_in_child_process(env: Mapping[str, str] | None = None, cores: float | None = None) -> bool:
    """``RASA_NLU_PROCESS``: whether each Rasa server parses messages in a child process (``nlu_process``).

    ``auto`` (the default): when this process has a whole core (``usable_cores``) more than
    ``RASA_INSTANCES`` Rasa servers use, so a child has a core to run on. One server on 2 cores
    answered 23 REST messages a second with it and 19 without; where every core already runs
    a server, the child only costs its memory (a second copy of the model, about 0.7 GB).
    """
    with reading(env) as read:
        choice = read.choice("RASA_NLU_PROCESS", "auto", ("auto", "true", "false"))
    if choice != "auto":
        return choice == "true"
    return (cores if cores is not None else usable_cores()) >= Ports.from_env(env).rasa_instances + 1


def usable_cores(cgroup_root: Path = Path("/sys/fs/cgroup"), own_cgroup: Path = Path("/proc/self/cgroup")) -> float:
    """The cores this process may run on, or its cgroups' CPU quota where that is less (``docker --cpus``).

    cgroup v2: the smallest ``cpu.max`` of the process's own group and every group above it
    (a systemd slice's ``CPUQuota`` holds the services in it), the root included, as a
    container sees its own. Else v1's ``cpu.cfs_quota_us`` at the cpu controller's root (as a
    container sees it). Nothing readable means no quota.
    """
    cores = float(len(os.sched_getaffinity(0)))
    own = ""
    with contextlib.suppress(OSError):
        own = next((line[3:].strip() for line in own_cgroup.read_text().splitlines() if line.startswith("0::")), "")
    group = PurePosixPath("/", own)
    v2 = [cgroup_root / str(folder).lstrip("/") / "cpu.max" for folder in (group, *group.parents)]
    quotas = [quota for path in v2 if (quota := _quota(path)) is not None]
    if not quotas:
        v1 = [cgroup_root / folder / "cpu.cfs_quota_us" for folder in ("cpu", "cpu,cpuacct")]
        quotas = [quota for path in v1 if (quota := _quota(path)) is not None][:1]
    return min([cores, *(quota for quota in quotas if quota > 0)])


def _quota(path: Path) -> float | None:
    """Cores a cgroup file allows (``inf`` for no quota); None when it cannot be read."""
    try:
        if path.name == "cpu.max":
            quota, period = path.read_text().split()[:2]
        else:
            quota, period = path.read_text().strip(), (path.parent / "cpu.cfs_period_us").read_text().strip()
        return math.inf if quota in ("max", "-1") else int(quota) / int(period)
    except (OSError, ValueError, ZeroDivisionError):
        return None
