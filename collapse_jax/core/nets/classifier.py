"""Image classifier (equinox MLP): the verifier and the feature network of the Frechet distance.

``x -> relu(W1 x) -> relu(W2 .) = features -> W3 . = logits``. As a *verifier* it scores a
generated image by its log-confidence in the conditioning class, ``log p(y | x)``, and keeps the
top fraction per class (Yi et al. 2025 keep the top 10%); trained on few real images it is a
*weak* verifier. As a *feature network* trained on all real training digits, its penultimate
activations play the role Inception features play in FID. One example per call; float32 leaves.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from collapse_jax.core._types import Array, Float, Int, Key
from collapse_jax.core._validate import check_int
from collapse_jax.core.nets.data import Split
from collapse_jax.core.nets.init import reinit
from collapse_jax.core.nets.train import fit, train_config, weighted_mean

DTYPE = jnp.float32


class Classifier(eqx.Module):
    """Two-hidden-layer MLP classifier over flattened images."""

    hidden: eqx.nn.Linear
    feature: eqx.nn.Linear
    head: eqx.nn.Linear

    def __init__(self, dim: int, hidden: int, features: int, classes: int = 10, *, key: Key):
        fn = "Classifier"
        dim = check_int(fn, "dim", dim, 1)
        hidden = check_int(fn, "hidden", hidden, 1)
        features = check_int(fn, "features", features, 1)
        classes = check_int(fn, "classes", classes, 2)
        k1, k2, k3 = jax.random.split(key, 3)
        self.hidden = eqx.nn.Linear(dim, hidden, dtype=DTYPE, key=k1)
        self.feature = eqx.nn.Linear(hidden, features, dtype=DTYPE, key=k2)
        self.head = eqx.nn.Linear(features, classes, dtype=DTYPE, key=k3)

    def features(self, x: Float[Array, " dim"]) -> Float[Array, " features"]:
        """Penultimate activations (the space of the Frechet classifier distance)."""
        return jax.nn.relu(self.feature(jax.nn.relu(self.hidden(x.astype(DTYPE)))))

    def __call__(self, x: Float[Array, " dim"]) -> Float[Array, " classes"]:
        """Class logits."""
        return self.head(self.features(x))


class Discriminator(eqx.Module):
    """Yi et al.'s real-vs-synthetic discriminator (``SyntheticDiscriminator`` of their
    ``MNIST/src/models.py``): ``dim -> 512 -> 256 -> 128 -> 64 -> 1`` with LeakyReLU(0.2)
    between the layers, one logit of "real". Called, it returns the two-class logits ``(0,
    logit)``, so that :func:`log_confidence` of class 1 is ``log sigmoid(logit)`` and
    :func:`cross_entropy` is their binary cross-entropy with logits."""

    layers: tuple

    def __init__(self, dim: int, *, key: Key):
        dim = check_int("Discriminator", "dim", dim, 1)
        sizes = (dim, 512, 256, 128, 64, 1)
        keys = jax.random.split(key, len(sizes) - 1)
        self.layers = tuple(eqx.nn.Linear(a, b, dtype=DTYPE, key=k)
                            for a, b, k in zip(sizes[:-1], sizes[1:], keys))

    def __call__(self, x: Float[Array, " dim"]) -> Float[Array, " 2"]:
        h = x.astype(DTYPE)
        for layer in self.layers[:-1]:
            h = jax.nn.leaky_relu(layer(h), 0.2)
        logit = self.layers[-1](h)[0]
        return jnp.stack([jnp.zeros((), DTYPE), logit])


def log_confidence(model: Classifier, x: Float[Array, "m dim"], y: Int[Array, " m"]):
    """``log p(y_i | x_i)`` for every row: the verifier's score (no saturation at p = 1)."""
    logp = jax.nn.log_softmax(jax.vmap(model)(x), axis=-1)
    return jnp.take_along_axis(logp, y[:, None].astype(jnp.int32), axis=1)[:, 0]


def cross_entropy(model: Classifier, key, x: Float[Array, "b dim"], y: Int[Array, " b"],
                  weights: Float[Array, " b"] | None = None):
    """Mean cross-entropy of a batch (``key`` unused; same signature as the VAE loss, also
    with ``weights``: :func:`~collapse_jax.core.nets.train.weighted_mean`)."""
    del key
    return -weighted_mean(log_confidence(model, x, y), weights)


def accuracy(model: Classifier, x: Float[Array, "m dim"], y: Int[Array, " m"]):
    """Fraction of rows whose arg-max class is ``y``."""
    return jnp.mean(jnp.argmax(jax.vmap(model)(x), axis=-1) == y)


def feature_network(key: Key, split: Split, *, hidden: int = 128, features: int = 32,
                    steps: int = 2000, batch: int = 64) -> Classifier:
    """The Frechet-distance classifier: trained once on ALL real training digits."""
    x, y = jnp.asarray(split.train.x), jnp.asarray(split.train.y)
    cfg = train_config(steps=steps, batch=batch, weight_decay=1e-4)

    @jax.jit
    def run(k):
        k_init, k_fit = jax.random.split(k)
        like = eqx.filter_eval_shape(Classifier, x.shape[1], hidden, features, key=k_init)
        return fit(k_fit, reinit(like, k_init), cross_entropy, x, y, x.shape[0], cfg)[0]

    return run(key)
