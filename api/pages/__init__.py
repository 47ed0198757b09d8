"""The French pages (Jinja2 + DSFR, usable without JavaScript), one module per feature as in
``parcours/``: they call the same services as the JSON API (``api.routes``) and render
``templates/<feature>/``. Form helpers are in ``api.forms``; providers in ``api.deps``."""
