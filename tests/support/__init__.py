"""Helpers shared by the tests of several features (fixtures stay in ``conftest.py`` files)."""
