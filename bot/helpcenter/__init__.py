"""The help center: Markdown articles in three languages, the exchange's facts, search and pages.

Knows nothing of Rasa or web servers: the action server searches it, the desk serves its pages.
"""
