"""Gongkai's application: composition root, CLI, state machine, dispatcher, web, report."""
