"""Financial knowledge with no I/O: canonical statement items and their synonyms (``items``),
metric formulas (``metrics``), numbers in text (``numbers``), the safe calculator
(``calculator``), company names (``companies``), the one formatter of amounts (``format``) and the
text helpers every layer shares (``text``: is it Chinese, rewriting to a fixed point).

May import: the backend root (``settings``, ``errors``, ``records``). Cheap to import.
"""
