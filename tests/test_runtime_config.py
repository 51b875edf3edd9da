"""Start-up configuration: endpoints written for Rasa from the environment."""

from __future__ import annotations

import yaml

from bot.runtime.stack import redis_lock_store, write_endpoints
from bot.settings import Settings


def test_redis_url_becomes_rasa_lock_store_fields():
    assert redis_lock_store("redis://:s3cret@cache.internal:6380/2") == {
        "type": "redis",
        "url": "cache.internal",
        "port": 6380,
        "db": 2,
        "key_prefix": "support",
        "password": "s3cret",
    }


def test_lock_store_only_when_redis_is_configured(tmp_path):
    plain = yaml.safe_load(write_endpoints(Settings.from_env({}), tmp_path).read_text())
    assert "lock_store" not in plain
    assert plain["tracker_store"]["url"] == "${DATABASE_URL}"
    with_redis = Settings.from_env({"REDIS_URL": "redis://127.0.0.1:6379/0"})
    shared = yaml.safe_load(write_endpoints(with_redis, tmp_path).read_text())
    assert shared["lock_store"]["url"] == "127.0.0.1"
