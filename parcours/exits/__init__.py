"""Coded exits: each département's list of end-of-support reasons (code, label, « sortie
positive » or not, active or not), offered when a journey is closed and counted in the FSE and
PDI annual reports."""
