"""The agent desk: web page, outbox dispatcher (alerts) and the agents' Telegram group bot.

``python -m bot.desk --port 8080`` runs all three in one process (``make run`` starts it);
``bot.desk.app.create_app(settings)`` builds the aiohttp application. Nothing is imported
here, so ``python -m bot.desk.hash_password`` stays light.
"""
