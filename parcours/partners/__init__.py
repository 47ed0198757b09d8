"""Parcours's side of the partners (the CAF, France Travail, the Région, the service
structures): typed HTTP adapters (``adapters/``), the CAF's feed file as Parcours reads it
(``caf_feed``) and its import (``caf_import``), the look-ups a référent asks (``lookups``), the
signed callbacks partners send (``callbacks``, ``signing``), what partners' answers put into the
carnet (``service``), and the tables that make imports and callbacks idempotent.

Adapters only speak HTTP; the activities (``activities/partners.py``) decide when to call them,
with which idempotency key and under which retry policy (``messages``).
"""
