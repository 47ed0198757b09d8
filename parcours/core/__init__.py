"""Shared plumbing: settings, the database, errors, logs, security, the Temporal client and the
glue around it, and the base types of messages and schemas."""
