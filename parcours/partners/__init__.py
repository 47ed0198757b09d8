"""Parcours's side of the partners: typed HTTP adapters for the CAF, France Travail, the Région
and the service structures, the CAF feed file as Parcours reads it, and the tables that make
imports and callbacks idempotent.

Adapters only speak HTTP; the activities (``activities/partners.py``) decide when to call them,
with which idempotency key and under which retry policy (``workflows/partner_calls.py``).
"""
