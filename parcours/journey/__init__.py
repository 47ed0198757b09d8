"""The journey's vocabulary and rules: pure, deterministic Python.

The ``Journey`` workflow runs these rules; the API and the pages read them to know which
actions a journey allows. Nothing here does I/O, reads the clock or holds personal data.
"""
