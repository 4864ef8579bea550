"""collapse_jax: vectorised JAX simulations that check the theory of model collapse."""

__version__ = "0.1.0"
