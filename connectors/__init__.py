"""Rasa channels for each platform, and the gate every customer message passes first."""
