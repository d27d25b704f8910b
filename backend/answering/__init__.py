"""Answering a question: planning (companies, years, follow-ups), hybrid retrieval, the agent's
tools, the routing decision, the agent loop, every prompt (``prompts``), answer records and the
chat service.

May import: the backend root, :mod:`backend.domain`, :mod:`backend.store`, :mod:`backend.llm`.
"""
