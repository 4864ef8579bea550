"""The classic collapse laws users compare against (Shumailov, Bertrand, Gerstgrasser, Dohmatob).

Rooms: ``kernel`` (the Gaussian refit: replace / accumulate / accumulate-subsample / mixing
with real data), ``fixed_design`` (the fixed-design regression kernels), ``theory``,
``figures``, and three checks: ``check_gaussian_refit``, ``check_real_mixing`` and
``check_regression`` (``python -m proofs_checks.gaussian_refit``, ``.real_mixing``,
``.regression_paradigms``).
"""
