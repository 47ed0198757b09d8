"""The Temporal worker's assembly (``assembly``) and the schedules it keeps (``schedules``);
``parcours worker`` (``cli/worker.py``) runs it."""
