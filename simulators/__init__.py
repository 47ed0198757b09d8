"""Local stand-ins for Parcours's partners: the CAF, France Travail, the Région and the service
structures, served by one small HTTP app (``python -m simulators``) with switches to make a
partner slow, failing, timing out or sending its callbacks twice.

Kept apart from the adapters that call them: Parcours imports only ``simulators.signing``
(standard library only) to check the callbacks. This package's ``__init__`` imports nothing, so
that import stays light.
"""
