"""Annalyst's backend, in layers; a module imports only from its own layer or the layers above it
in this list (``tests/test_layers.py`` checks it):

1. the root: ``settings`` (one typed settings object), ``errors`` (user-facing errors),
   ``records`` (plain records passed between stages), ``system`` (files and CPU facts);
2. :mod:`backend.domain` — financial knowledge without I/O: items, metrics, numbers, the
   calculator, company names, the one formatter of amounts;
3. :mod:`backend.store` and :mod:`backend.llm` — persistence (SQLite catalogue, facts, Chroma,
   embeddings, keyword tokens) and language models (clients, bundled GGUFs, registry);
4. :mod:`backend.answering` — question planning, retrieval, tools, the agent, prompts, answers;
5. :mod:`backend.app` — the services wiring and the application's jobs; the only package that
   imports ``ingestion`` or ``training``;
6. :mod:`backend.evaluation` — scoring and the evaluation runner.

Entry points: ``python -m backend`` (ask, models, doctor, serve) and ``python -m backend.evaluate``.
"""
