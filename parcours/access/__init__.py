"""Accounts and access: roles and the carnet's follow-up group (pure rules), sign-in (passwords,
sessions, API tokens, invitations) and the access log."""
