"""Orientations of a person to a service of the resource base (a child workflow of the journey,
answered by the structure), and the notice France Travail gets of a professional orientation."""
