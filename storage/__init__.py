"""Persistence: models, migrations, the outbox (sole writer of deliveries) and the ledger."""
