"""Data lifecycle: retention and the daily purge, erasing one customer, exporting cases."""
