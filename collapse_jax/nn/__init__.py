"""Neural generator with a verifier: equinox CVAE, classifier-verifier, optax training as
``lax.scan``, the generate-verify-retrain kernel and image metrics (theory.md section 2.5)."""

from . import classifier, data, init, metrics, retrain, train, vae

__all__ = ["classifier", "data", "init", "metrics", "retrain", "train", "vae"]
