"""Verified retraining converges to the verifier's knowledge center (Yi et al. 2025).

Rooms: ``kernel`` (verifier-filtered retraining of a linear regression), ``regression``
(its sufficient-statistic rounds), ``theory`` (its closed forms), ``figures``,
``check`` (``python -m proofs_checks.knowledge_center``).
"""
