"""The HTTP door: JSON API (``/api/v1``) and the French pages, over the same services."""
