"""Crypto-exchange support assistant: domain, actions, case store and agent desk."""
