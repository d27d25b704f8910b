"""The application: the one wiring function (``services.build_services``), the ingestion queue and
model warm-up (``jobs``), the one launcher of background processes (``processes``), the admin
page's service (``admin``) and the citation evidence views (``evidence``).

May import: every lower backend layer, and ``ingestion`` and ``training`` (the only backend package
that does).
"""
