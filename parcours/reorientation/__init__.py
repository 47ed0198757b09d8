"""Reorientation: a request (by the référent or the person) and the orientation team's
decision, with their free texts; and the social track's review that may lead to one."""
