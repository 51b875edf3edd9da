"""Start-up: cached model training, Rasa's tracker store from ``DATABASE_URL``, the process stack."""
