"""Collaborative proxy references against siloed selection (Qiao et al. 2026, section 5).

Rooms: ``kernel`` (selection against local / proxy / oracle references with a mixture
generator), ``references`` (Wasserstein proxy references), ``silo_data``, ``sample_metrics``,
``ot_layer`` (the closed-form Gaussian OT check), ``theory``, ``figures``, ``check``
(``python -m proofs_checks.proxy_references``).
"""
