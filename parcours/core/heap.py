"""What start-up left on the heap, set aside from the garbage collector.

A process of Parcours holds some 250,000 objects once started (the modules, the application's
routes and schemas, the templates, the workflows' definitions, the partners' clients). CPython's
full collection walks every one of them: 85 to 140 ms on this machine, during which the process
answers nothing. Under the benchmarks' load the API and the worker each ran three or four such
collections; the managers' console, whose requests make thousands of rows, ran one every few
dozen requests (its stalled list, read in 10 ms, waited 140 ms at the 95th percentile).

These objects live as long as the process: once frozen the collector no longer walks them, and a
full collection looks only at what was made since (7 ms measured in the API and the worker)."""

from __future__ import annotations

import gc


def freeze_startup_objects() -> None:
    """Called once a process is ready to serve, before its first request or task: what is
    garbage is collected first, what remains is frozen."""
    gc.collect()
    gc.freeze()
