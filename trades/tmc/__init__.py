"""The TMC push channel beside sync: a consumer, its permits, its stats, models and admin."""
