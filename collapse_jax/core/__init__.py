"""The core: shared mathematics with no knowledge of any theorem family.

The Gaussian family (``gaussian``, ``linalg``, ``metrics``, ``silos``), top-alpha selection
(``selection``), blocked prefix counts (``prefix``) and short sorts by a network
(``sorting``), optimal transport (``transport``, ott-jax), mixtures (``mixture``), the data
pools of the three paradigms (``pool``), the closed forms of accumulate without selection
(``accumulation``), interval statistics (``stats``), and the private helpers every layer uses
(``_types``, ``_validate``, ``_errors``, ``_random``). The core never imports a family.
"""
