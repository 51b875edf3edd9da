"""Custom actions of the support assistant, served by ``rasa run actions --actions bot.actions``."""
