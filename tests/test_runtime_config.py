"""Start-up configuration: endpoints written for Rasa from the environment; a dead child restarted."""

from __future__ import annotations

import os
import sys

import pytest
import yaml

from bot.environment import SettingsError
from bot.runtime.server_settings import nlu_in_child_process, usable_cores
from bot.runtime.stack import (
    STABLE_SECONDS,
    Child,
    Ports,
    commands,
    process_environment,
    rasa_children,
    redis_lock_store,
    write_endpoints,
)
from bot.settings import PROJECT_ROOT, Settings

ACTIONS = "http://127.0.0.1:5055/webhook"


def test_redis_url_becomes_rasa_lock_store_fields():
    assert redis_lock_store("redis://:s3cret@cache.internal:6380/2", 4.0) == {
        "type": "bot.runtime.lock_store.RenewedRedisLockStore",
        "url": "cache.internal",
        "port": 6380,
        "db": 2,
        "key_prefix": "support",
        "socket_timeout": 4.0,
        "password": "s3cret",
    }


def test_lock_store_only_when_redis_is_configured(tmp_path):
    plain = yaml.safe_load(write_endpoints(Settings.from_env({}), "http://actions:5055/webhook", tmp_path).read_text())
    assert "lock_store" not in plain
    assert plain["action_endpoint"]["url"] == "http://actions:5055/webhook"
    assert "url" not in plain["tracker_store"], "the tracker store reads DATABASE_URL (no password in the file)"
    with_redis = Settings.from_env({"REDIS_URL": "redis://127.0.0.1:6379/0", "REDIS_TIMEOUT_SECONDS": "3"})
    shared = yaml.safe_load(write_endpoints(with_redis, ACTIONS, tmp_path).read_text())
    assert shared["lock_store"]["url"] == "127.0.0.1"
    assert shared["lock_store"]["socket_timeout"] == 3.0, "Rasa's lock store waits on Redis this long at most"


def test_only_rasa_listens_beyond_loopback_by_default(monkeypatch, tmp_path):
    for name in ("RASA_HOST", "ACTIONS_HOST", "REST_CORS_ORIGINS", "SANIC_HOST"):
        monkeypatch.delenv(name, raising=False)
    ports = Ports.from_env()
    rasa = commands(tmp_path / "model.tar.gz", tmp_path / "endpoints.yml", ports)["rasa"]
    assert process_environment(Settings.from_env(), ports)["SANIC_HOST"] == "127.0.0.1"
    assert rasa[rasa.index("--interface") + 1] == "0.0.0.0"
    assert "--cors" not in rasa, "no browser origin may call the REST channel unless listed"


def test_hosts_and_cors_origins_are_settings(monkeypatch, tmp_path):
    monkeypatch.setenv("ACTIONS_HOST", "10.0.0.5")
    monkeypatch.setenv("RASA_HOST", "127.0.0.1")
    monkeypatch.setenv("REST_CORS_ORIGINS", "https://help.example.com, https://example.com")
    ports = Ports.from_env()
    rasa = commands(tmp_path / "model.tar.gz", tmp_path / "endpoints.yml", ports)["rasa"]
    assert process_environment(Settings.from_env(), ports)["SANIC_HOST"] == "10.0.0.5"
    assert rasa[rasa.index("--interface") + 1] == "127.0.0.1"
    assert rasa[rasa.index("--cors") + 1 :][:2] == ["https://help.example.com", "https://example.com"]


def test_several_rasa_servers_get_consecutive_ports_and_their_own_ids(monkeypatch, tmp_path):
    monkeypatch.setenv("RASA_PORT", "5005")
    monkeypatch.setenv("RASA_INSTANCES", "2")
    ports = Ports.from_env()
    with pytest.raises(ValueError, match="REDIS_URL"):
        process_environment(Settings.from_env({}), ports)
    env = process_environment(Settings.from_env({"REDIS_URL": "redis://127.0.0.1:6379/0"}), ports)
    servers = rasa_children(tmp_path / "model.tar.gz", tmp_path / "endpoints.yml", ports, env)
    assert list(servers) == ["rasa", "rasa-1"]
    for (command, server_env), port in zip(servers.values(), ("5005", "5006"), strict=True):
        assert command[command.index("--port") + 1] == port == server_env["RASA_PORT"]  # the instance id's part


def test_each_server_is_told_how_many_servers_share_the_cores(monkeypatch):
    """Each server decides on its NLU child by ``RASA_INSTANCES``; the bench's stacks pass the count in ``ports``
    alone, so its two servers each started a child where `make run`'s would not (four busy processes, two cores)."""
    monkeypatch.delenv("RASA_INSTANCES", raising=False)
    ports = Ports(rasa=5005, actions=5055, desk=8080, rasa_instances=2)
    env = process_environment(Settings.from_env({"REDIS_URL": "redis://127.0.0.1:6379/0"}), ports)
    assert env["RASA_INSTANCES"] == "2"
    assert nlu_in_child_process({k: v for k, v in env.items() if k != "RASA_NLU_PROCESS"}, cores=2) is False


def test_rasa_instances_must_be_positive(monkeypatch):
    monkeypatch.setenv("RASA_INSTANCES", "0")
    with pytest.raises(ValueError, match="RASA_INSTANCES"):
        Ports.from_env()


def test_plain_rasa_reads_the_shipped_endpoints_without_any_variable(monkeypatch, tmp_path):
    """`rasa run --endpoints endpoints.yml` once stopped on an unset ``${ACTION_ENDPOINT_URL}``."""
    from rasa.core.tracker_store import TrackerStore
    from rasa.core.utils import AvailableEndpoints
    from rasa.shared.core.domain import Domain

    from bot.runtime.tracker_store import DatabaseUrlTrackerStore

    for name in ("ACTION_ENDPOINT_URL", "DATABASE_URL", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    assert "${" not in (PROJECT_ROOT / "endpoints.yml").read_text()
    endpoints = AvailableEndpoints.read_endpoints(str(PROJECT_ROOT / "endpoints.yml"))
    assert endpoints.action.url == ACTIONS
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'support.db'}")
    store = TrackerStore.create(endpoints.tracker_store, Domain.empty())
    assert isinstance(store, DatabaseUrlTrackerStore)
    assert store.engine.url.database == str(tmp_path / "support.db")
    store.engine.dispose()


def test_a_child_that_dies_is_restarted_with_growing_pauses_and_at_once_after_a_long_run():
    child = Child("flaky", [sys.executable, "-c", "raise SystemExit(3)"], env={})
    child.start()
    pauses = []
    for _ in range(3):
        dead = child.process
        assert dead is not None and dead.wait(timeout=30) == 3
        died = child.started_at + 1  # a quick death
        child.check(died)
        assert child.restart_at is not None
        due = child.restart_at
        pauses.append(due - died)
        child.check(due - 0.1)
        assert child.process is dead, "not restarted before its pause is over"
        child.check(due)
        assert child.process is not dead, "restarted once the pause is over"
    dead = child.process
    assert dead is not None and dead.wait(timeout=30) == 3
    child.check(child.started_at + STABLE_SECONDS + 1)
    assert child.process is not dead, "a child that ran long is restarted without a pause"
    assert child.process is not None and child.process.wait(timeout=30) == 3
    assert pauses == [1.0, 2.0, 4.0]


@pytest.mark.parametrize(
    ("env", "cores", "in_child"),
    [
        ({}, 2, True),  # one server, a core to spare
        ({"RASA_INSTANCES": "2"}, 2, False),  # every core runs a server
        ({}, 1, False),
        ({"RASA_NLU_PROCESS": "true", "RASA_INSTANCES": "2"}, 2, True),
        ({"RASA_NLU_PROCESS": "false"}, 8, False),
    ],
)
def test_the_nlu_runs_in_a_child_process_when_a_core_is_spare_or_when_told(env, cores, in_child):
    assert nlu_in_child_process(env, cores=cores) is in_child


def test_a_wrong_nlu_process_setting_is_named():
    with pytest.raises(SettingsError, match="RASA_NLU_PROCESS"):
        nlu_in_child_process({"RASA_NLU_PROCESS": "sometimes"})


@pytest.mark.parametrize(
    ("files", "own", "cores"),
    [
        ({"cpu.max": "100000 100000\n"}, "0::/\n", 1.0),  # docker --cpus 1, cgroup v2 as the container sees it
        # systemd CPUQuota=150%: the process's own group
        ({"system.slice/rasa.service/cpu.max": "150000 100000\n"}, "0::/system.slice/rasa.service\n", 1.5),
        ({"cpu.max": "max 100000\n"}, "0::/\n", None),  # v2, no quota
        ({"cpu/cpu.cfs_quota_us": "50000\n", "cpu/cpu.cfs_period_us": "100000\n"}, "4:cpu:/\n", 0.5),  # cgroup v1
        ({"cpu,cpuacct/cpu.cfs_quota_us": "-1\n", "cpu,cpuacct/cpu.cfs_period_us": "100000\n"}, "", None),
        ({"cpu.max": "100000000 100000\n"}, "0::/\n", None),  # a quota above the cores the process may use
        ({}, "", None),  # nothing readable: no quota
        # systemd: the slice's CPUQuota=100% holds a service that has none of its own
        (
            {"rasa.slice/cpu.max": "100000 100000\n", "rasa.slice/rasa.service/cpu.max": "max 100000\n"},
            "0::/rasa.slice/rasa.service\n",
            1.0,
        ),
        ({"a/cpu.max": "200000 100000\n", "a/b/cpu.max": "50000 100000\n"}, "0::/a/b\n", 0.5),  # the smallest
        ({"a/cpu.max": "50000 0\n", "cpu.max": "max 100000\n"}, "0::/a\n", None),  # a zero period is no quota
    ],
)
def test_auto_counts_a_containers_cpu_quota_as_its_cores(tmp_path, files, own, cores):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    (tmp_path / "self-cgroup").write_text(own)
    affinity = len(os.sched_getaffinity(0))
    expected = affinity if cores is None else min(cores, affinity)
    assert usable_cores(tmp_path, tmp_path / "self-cgroup") == expected


def test_the_child_needs_a_whole_core_to_spare_under_a_quota():
    assert nlu_in_child_process({}, cores=1.0) is False
    assert nlu_in_child_process({}, cores=1.5) is False  # half a core: the child would take the server's
    assert nlu_in_child_process({"RASA_INSTANCES": "2"}, cores=3.0) is True
