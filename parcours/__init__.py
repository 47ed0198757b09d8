"""Parcours' domain, one folder per feature with the same file names in each (``models``,
``schemas``, ``repository``, ``service``, ``messages``, ``rules``), shared plumbing in ``core``.

Imports none of the doors (``api``, ``cli``), the worker's parts (``workflows``,
``activities``) or the demo: ``make lint`` checks it.
"""
