"""``python -m bot`` is the ``gongkai`` command."""

from bot.cli import main

main()
