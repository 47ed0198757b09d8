"""Parcours' domain: settings, database, models, repositories and services.

Shared by the workflows, the activities, the API and the CLI; imports neither FastAPI nor the
Temporal worker.
"""
