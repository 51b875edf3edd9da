"""Links between channel identities on SQLite and PostgreSQL: one person's history spans the channels
an agent linked, every Telegram chat of one user, and nothing else."""

from __future__ import annotations

import pytest

from bot.cases.customer_links import CustomerLinks, customer_handle, handle_of
from bot.cases.database import make_engine
from bot.cases.store import CaseStore


@pytest.fixture
def stores(database_url: str):
    engine = make_engine(database_url)
    yield CaseStore(engine), CustomerLinks(engine)
    engine.dispose()


def _case(store: CaseStore, channel: str, sender_id: str, intent: str = "withdrawal_missing"):
    return store.open_case(intent=intent, priority=3, channel=channel, sender_id=sender_id, summary=intent, details={})


def test_a_telegram_user_is_one_identity_in_every_chat_they_write_from():
    assert customer_handle("telegram", "tg:42:42") == customer_handle("telegram", "tg:-100777:42") == "tg:42"
    assert customer_handle("twitter", "x:42") == "x:42" and customer_handle("rest", "rest:abc") == "rest:abc"


def test_history_spans_linked_channels_newest_first_and_an_unlink_splits_them_again(stores):
    store, links = stores
    private = _case(store, "telegram", "tg:42:42", "account_locked")
    in_group = _case(store, "telegram", "tg:-100777:42", "deposit_missing")
    stranger = _case(store, "telegram", "tg:1042:1042")  # the digits end the same: another user
    x_case = _case(store, "twitter", "x:9001", "suspected_theft")
    rest_case = _case(store, "rest", "rest:web1")

    assert [c.id for c in links.history("tg:42", without=private.id)] == [in_group.id]
    assert links.history("x:9001", without=x_case.id) == []  # not one customer before an agent says so

    assert links.link("tg:42", "x:9001", by="alice") is True
    assert links.link("x:9001", "tg:42", by="bob") is False  # the same link, whichever way it is typed
    assert [c.id for c in links.history(handle_of(x_case), without=x_case.id)] == [in_group.id, private.id]
    assert [c.id for c in links.history("tg:42")] == [x_case.id, in_group.id, private.id]

    links.link("x:9001", "rest:web1", by="bob")  # through x:9001, the REST customer is the Telegram user too
    assert links.person("tg:42") == ["rest:web1", "tg:42", "x:9001"]
    assert rest_case.id in {c.id for c in links.history("tg:42")}
    assert stranger.id not in {c.id for c in links.history("tg:42")}
    assert [(k.first, k.second, k.linked_by) for k in links.links("rest:web1")] == [
        ("tg:42", "x:9001", "alice"),
        ("rest:web1", "x:9001", "bob"),
    ]

    assert links.unlink("x:9001", "tg:42") is True
    assert links.unlink("x:9001", "tg:42") is False
    assert links.person("tg:42") == ["tg:42"] and links.person("rest:web1") == ["rest:web1", "x:9001"]
    assert [c.id for c in links.history("tg:42", without=private.id)] == [in_group.id]


def test_an_identity_is_not_linked_to_itself(stores):
    _, links = stores
    with pytest.raises(ValueError):
        links.link("x:1", "x:1", by="alice")
