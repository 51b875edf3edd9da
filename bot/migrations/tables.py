"""Every table of ours in one place: what autogenerate and the tests compare a database with.

A module that defines a ``MetaData`` belongs here (``tests/test_migrations.py`` checks it).
Rasa's tracker tables are Rasa's and stay out (``runner.RASA_TABLES``).
"""

from sqlalchemy import MetaData

from bot.cases import (
    agents,
    audit,
    customer_links,
    deliveries,
    escalations,
    group_updates,
    helpful_articles,
    instances,
    leases,
    schema,
    team_routing,
)
from connectors.rest import conversations, mailbox
from connectors.telegram import storage
from connectors.twitter import inbox, state

METADATA: tuple[MetaData, ...] = (
    schema.metadata,
    agents.metadata,
    audit.metadata,
    customer_links.metadata,
    deliveries.metadata,
    escalations.metadata,
    group_updates.metadata,
    helpful_articles.metadata,
    instances.metadata,
    leases.metadata,
    team_routing.metadata,
    conversations.metadata,
    mailbox.metadata,
    storage.metadata,
    inbox.metadata,
    state.metadata,
)
