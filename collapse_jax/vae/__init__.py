"""Verified retraining of a small neural generator (Yi et al. 2025, section 5).

Rooms: ``kernel`` (the generate-verify-retrain loop), ``cvae`` and ``classifier`` (equinox
models), ``train`` (optax training as ``lax.scan``), ``init``, ``data`` (8x8 digits),
``metrics`` (image metrics), ``figures``, ``check`` (``python -m
proofs_checks.vae_verification``). Importing this package imports no submodule.
"""
