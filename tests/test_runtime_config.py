"""Start-up configuration: endpoints written for Rasa from the environment."""

from __future__ import annotations

import os

import pytest
import yaml

from bot.runtime.stack import Ports, commands, process_environment, rasa_children, redis_lock_store, write_endpoints
from bot.settings import Settings


def test_redis_url_becomes_rasa_lock_store_fields():
    assert redis_lock_store("redis://:s3cret@cache.internal:6380/2", 4.0) == {
        "type": "redis",
        "url": "cache.internal",
        "port": 6380,
        "db": 2,
        "key_prefix": "support",
        "socket_timeout": 4.0,
        "password": "s3cret",
    }


def test_lock_store_only_when_redis_is_configured(tmp_path):
    plain = yaml.safe_load(write_endpoints(Settings.from_env({}), tmp_path).read_text())
    assert "lock_store" not in plain
    assert plain["tracker_store"]["url"] == "${DATABASE_URL}"
    with_redis = Settings.from_env({"REDIS_URL": "redis://127.0.0.1:6379/0", "REDIS_TIMEOUT_SECONDS": "3"})
    shared = yaml.safe_load(write_endpoints(with_redis, tmp_path).read_text())
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


def test_several_rasa_servers_get_consecutive_ports_their_own_ids_and_share_the_cores(monkeypatch, tmp_path):
    monkeypatch.setenv("RASA_PORT", "5005")
    monkeypatch.setenv("RASA_INSTANCES", "2")
    monkeypatch.delenv("NLU_EMBEDDING_THREADS", raising=False)
    ports = Ports.from_env()
    with pytest.raises(ValueError, match="REDIS_URL"):
        process_environment(Settings.from_env({}), ports)
    env = process_environment(Settings.from_env({"REDIS_URL": "redis://127.0.0.1:6379/0"}), ports)
    servers = rasa_children(tmp_path / "model.tar.gz", tmp_path / "endpoints.yml", ports, env)
    assert list(servers) == ["rasa", "rasa-1"]
    for (command, server_env), port in zip(servers.values(), ("5005", "5006"), strict=True):
        assert command[command.index("--port") + 1] == port == server_env["RASA_PORT"]  # the instance id's part
        assert server_env["NLU_EMBEDDING_THREADS"] == str(max(1, (os.cpu_count() or 1) // 2))


def test_rasa_instances_must_be_positive(monkeypatch):
    monkeypatch.setenv("RASA_INSTANCES", "0")
    with pytest.raises(ValueError, match="RASA_INSTANCES"):
        Ports.from_env()
