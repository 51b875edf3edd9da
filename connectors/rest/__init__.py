"""The local/REST channel: Rasa's REST API shape, with redaction and handoff.

``mailbox`` is Rasa-free (the agent desk posts replies through it); the Rasa channel is
``connectors.rest.channel.SupportRestInput``, named in ``credentials.yml``.
"""
