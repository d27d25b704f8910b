"""Financial knowledge with no I/O: canonical statement items and their synonyms (``items``),
metric formulas (``metrics``), numbers in text (``numbers``), the safe calculator
(``calculator``), company names (``companies``) and the one formatter of amounts (``format``).

May import: the backend root (``settings``, ``errors``, ``records``). Cheap to import.
"""
