"""Read one value out of a Prometheus text scrape, as Prometheus would parse it."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def sample(scrape: str, name: str, **labels: str) -> float | None:
    """The value of the sample ``name`` whose labels include ``labels``; None when there is none."""
    for family in text_string_to_metric_families(scrape):
        for each in family.samples:
            if each.name == name and all(each.labels.get(key) == value for key, value in labels.items()):
                return float(each.value)
    return None


def value(scrape: str, name: str, **labels: str) -> float:
    """Like ``sample``, with an absent series read as 0 (a counter not incremented yet)."""
    found = sample(scrape, name, **labels)
    return 0.0 if found is None else found


def total(scrape: str, name: str, **labels: str) -> float:
    """The sum over every sample ``name`` whose labels include ``labels`` (all actions, all intents...)."""
    return sum(
        float(each.value)
        for family in text_string_to_metric_families(scrape)
        for each in family.samples
        if each.name == name and all(each.labels.get(key) == wanted for key, wanted in labels.items())
    )
