"""Bot-env tests. Run them with the bot env's own config:

    .venv-bot/bin/python -m pytest -c tests/bot/pytest.ini tests/bot

In the app env (no rasa_sdk) this directory is skipped instead of failing collection.
"""

try:
    import rasa_sdk  # noqa: F401
except ImportError:
    collect_ignore_glob = ["*.py"]
else:
    from tests.bot.helpers import backend, dispatcher  # noqa: F401  (fixtures)
