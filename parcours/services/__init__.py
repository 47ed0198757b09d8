"""Use cases shared by the API, the pages and the CLI. Services never commit: the caller
(request, activity attempt, command) owns the transaction."""
