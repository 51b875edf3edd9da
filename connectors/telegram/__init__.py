"""Telegram connector."""
