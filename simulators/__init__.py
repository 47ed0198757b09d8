"""Local stand-ins for Parcours's partners: the CAF, France Travail, the Région and the service
structures, served by one small HTTP app (``python -m simulators``) with switches to make a
partner slow, failing, timing out or sending its callbacks twice.

Kept apart from the platform: nothing here imports Parcours, and Parcours imports nothing from
here (``make lint`` checks both). They speak to each other over HTTP only, as real partners
would; the callbacks' signature scheme is written on each side (``simulators.signing`` signs,
``parcours.partners.signing`` checks).
"""
