"""Territories: the départements of France and their communes as data, and which départements
this platform hosts.

A feature of its own rather than a part of ``access``: ``access`` says who may see a journey
(a manager sees their département's); this feature says what a département and a commune *are*
(codes, names, postal codes, coordinates, hosted or not), and every feature asks it — the CAF
feed to route a person to their département, the resource base to measure distances from any
commune, the journeys to hand a person over. One name in every door: ``parcours/territories/``,
``cli/territories.py`` (``parcours territory …``), ``tests/territories/``.
"""
