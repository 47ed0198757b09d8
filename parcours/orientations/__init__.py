"""Orientations of a person to a service of the resource base, and training requests to their
funder: each one a child workflow of the person's journey."""
