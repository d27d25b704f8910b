"""Evaluation on any question file in the format of ``dev.jsonl``: the runner (``runner``) and the
scoring rules (``scoring``). Command line: ``python -m backend.evaluate``.

May import: every lower backend layer (it builds the services through :mod:`backend.app`).
"""
