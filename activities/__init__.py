"""Temporal activities: where journeys touch the database and the partners."""
