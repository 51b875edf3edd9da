"""Prometheus metrics: one module per concern, counted where the event happens.

Counters and histograms are module-level, as prometheus_client expects (declaring one
opens nothing); gauges that need the database are read from SQL on each scrape
(``backlog``, ``gauges``); ``exposition`` serves them.
"""
