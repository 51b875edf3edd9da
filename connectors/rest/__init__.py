"""The local/REST channel: Rasa's REST API shape, with redaction and handoff."""

from connectors.rest.channel import SupportRestInput

__all__ = ["SupportRestInput"]
