"""E-mail's Temporal side: the ``DeliverOutbox`` workflow that sends, every minute, the mails
left in the outbox (``messages``: its names, inputs and results).

The sender (``parcours.core.mail``) and the outbox (``parcours.core.outbox``: table, SQL,
``enqueue``) are shared plumbing in ``parcours/core/``, since every feature may send mail;
workflows cannot import them (SQLAlchemy, I/O), hence this feature's name for the workflow's
doors: ``workflows/mail.py``, ``activities/mail.py``, ``tests/mail/``."""
