"""The table of event classes answers as Rasa's walk over Event's subclasses does."""

from __future__ import annotations

import pytest
import rasa.shared.utils.common
from rasa.shared.core.events import ActiveLoop, BotUttered, Event, SlotSet, UserUttered

from bot.runtime.event_types import resolve_by_type


@pytest.mark.parametrize("cls", sorted(rasa.shared.utils.common.all_subclasses(Event), key=lambda c: c.__name__))
def test_every_event_type_resolves_to_the_class_the_walk_finds(cls: type[Event]) -> None:
    walked = next(c for c in rasa.shared.utils.common.all_subclasses(Event) if c.type_name == cls.type_name)
    assert resolve_by_type(cls.type_name) is walked


def test_events_read_back_through_the_table_and_the_walks_edges_hold() -> None:
    events = [UserUttered("hi", {"name": "greet"}), SlotSet("case_id", "CX-1"), ActiveLoop("f"), BotUttered("ok")]
    assert [type(Event.from_parameters(e.as_dict())) for e in events] == [type(e) for e in events]
    assert resolve_by_type("topic") is None
    assert resolve_by_type("no_such_event", default=SlotSet) is SlotSet
    with pytest.raises(ValueError, match="Unknown event name 'no_such_event'"):
        resolve_by_type("no_such_event")
    with pytest.raises(ValueError, match="Unknown event name"):  # not a name at all, as Rasa's walk says too
        resolve_by_type(["x"])  # type: ignore[arg-type]
