"""Siloed top-alpha selection collapses variance as a power law (Qiao et al. 2026).

Rooms: ``kernel`` (the selection kernel), ``theory`` (psi(alpha, d) and the finite-t
predictions), ``figures``, ``check`` (``python -m proofs_checks.power_law``).
"""
