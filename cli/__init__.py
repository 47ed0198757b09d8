"""Entry points: the ``parcours`` command and what it runs (worker, API, dev platform, seed)."""
