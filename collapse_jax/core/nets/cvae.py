"""Conditional variational autoencoder (Kingma et al. 2014; Sohn et al. 2015) as an equinox module.

Encoder ``q(z | x, y) = N(mu(x, y), diag exp(logvar(x, y)))`` and decoder
``p(x | z, y) = Bernoulli(sigmoid(f(z, y)))`` per pixel (``noise = 0``) or
``N(sigmoid(f(z, y)), noise^2 I)`` (``noise > 0``), both one-hidden-layer MLPs on the image
concatenated with the one-hot label. The module acts on ONE example; batches go through
``jax.vmap``. Every leaf is a float32 array (set explicitly: the checks enable 64-bit JAX), so
a model is a plain pytree that ``vmap`` can batch over seeds.

The loss is the negative evidence lower bound per example,

    -ELBO(x, y) = sum_pixels BCE(x, sigmoid f(z, y)) + KL(q(z | x, y) || N(0, I)),
    (``noise > 0``: the BCE term becomes ``|x - sigmoid f(z, y)|^2 / (2 noise^2)``)
    z = mu + exp(logvar / 2) eps,   eps ~ N(0, I)   (reparameterisation),

with ``KL = 1/2 sum_j (exp(logvar_j) + mu_j^2 - 1 - logvar_j)``. Yi et al. (2025) train a
CVAE of this kind on MNIST (latent dimension 20, Adam with lr 1e-3); theory.md section 2.5.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from collapse_jax.core._types import Array, Float, Int, Key
from collapse_jax.core._validate import check_float, check_int

DTYPE = jnp.float32


class CVAE(eqx.Module):
    """Conditional VAE on flattened images in [0, 1] with ``classes`` labels."""

    enc_hidden: eqx.nn.Linear
    enc_out: eqx.nn.Linear
    dec_hidden: eqx.nn.Linear
    dec_out: eqx.nn.Linear
    latent: int = eqx.field(static=True)
    classes: int = eqx.field(static=True)
    noise: float = eqx.field(static=True)

    def __init__(self, dim: int, latent: int, hidden: int, classes: int = 10,
                 noise: float = 0.0, *, key: Key):
        fn = "CVAE"
        dim = check_int(fn, "dim", dim, 1)
        latent = check_int(fn, "latent", latent, 1, 512)
        hidden = check_int(fn, "hidden", hidden, 1)
        classes = check_int(fn, "classes", classes, 2)
        k1, k2, k3, k4 = jax.random.split(key, 4)
        self.enc_hidden = eqx.nn.Linear(dim + classes, hidden, dtype=DTYPE, key=k1)
        self.enc_out = eqx.nn.Linear(hidden, 2 * latent, dtype=DTYPE, key=k2)
        self.dec_hidden = eqx.nn.Linear(latent + classes, hidden, dtype=DTYPE, key=k3)
        self.dec_out = eqx.nn.Linear(hidden, dim, dtype=DTYPE, key=k4)
        self.latent, self.classes = latent, classes
        self.noise = check_float(fn, "noise", noise, 0.0, 10.0)

    def _onehot(self, y):
        return jax.nn.one_hot(y, self.classes, dtype=DTYPE)

    def encode(self, x: Float[Array, " dim"], y: Int[Array, ""]):
        """Mean and log-variance of ``q(z | x, y)``."""
        h = jax.nn.relu(self.enc_hidden(jnp.concatenate([x.astype(DTYPE), self._onehot(y)])))
        out = self.enc_out(h)
        return out[: self.latent], jnp.clip(out[self.latent:], -10.0, 10.0)

    def decode_logits(self, z: Float[Array, " latent"], y: Int[Array, ""]):
        """Pixel logits of ``p(x | z, y)``."""
        h = jax.nn.relu(self.dec_hidden(jnp.concatenate([z.astype(DTYPE), self._onehot(y)])))
        return self.dec_out(h)

    def decode(self, z: Float[Array, " latent"], y: Int[Array, ""]) -> Float[Array, " dim"]:
        """The decoder mean ``sigmoid f(z, y)``: the image a CVAE is shown and scored by (as in
        Yi et al.)."""
        return jax.nn.sigmoid(self.decode_logits(z, y))

    def sample(self, key: Key, y: Int[Array, ""]) -> Float[Array, " dim"]:
        """One generated image of class ``y``: the decoder mean at ``z ~ N(0, I)``."""
        return self.decode(jax.random.normal(key, (self.latent,), DTYPE), y)

    def loss(self, x, y, eps):
        """Negative ELBO of one example at the standard-normal draw ``eps``, with its
        reconstruction and KL parts."""
        mu, logvar = self.encode(x, y)
        z = mu + jnp.exp(0.5 * logvar) * eps.astype(DTYPE)
        logits = self.decode_logits(z, y)
        x = x.astype(DTYPE)
        if self.noise > 0:  # Gaussian likelihood N(sigmoid f, noise^2 I), constants dropped
            recon = 0.5 * jnp.sum((x - jax.nn.sigmoid(logits)) ** 2) / self.noise**2
        else:  # BCE with logits, stable: max(l, 0) - l x + log(1 + exp(-|l|)).
            recon = jnp.sum(jnp.maximum(logits, 0) - logits * x
                            + jnp.log1p(jnp.exp(-jnp.abs(logits))))
        kl = 0.5 * jnp.sum(jnp.exp(logvar) + mu**2 - 1.0 - logvar)
        return recon + kl, (recon, kl)

    def __call__(self, x, y, key: Key):
        """Negative ELBO of one example (one reparameterisation draw), with its parts."""
        return self.loss(x, y, jax.random.normal(key, (self.latent,), DTYPE))


def neg_elbo(model: CVAE, key: Key, x: Float[Array, "b dim"], y: Int[Array, " b"]):
    """Mean negative ELBO over a batch (one reparameterisation draw per example)."""
    eps = jax.random.normal(key, (x.shape[0], model.latent), DTYPE)
    loss, _ = jax.vmap(model.loss)(x, y, eps)
    return jnp.mean(loss)


def generate(model: CVAE, key: Key, labels: Int[Array, " m"], binary: bool = False
             ) -> Float[Array, "m dim"]:
    """Images of the given classes, one latent draw each: decoder means, or with
    ``binary=True`` samples of the Bernoulli likelihood (every pixel drawn 0 or 1 with the
    decoder's probability, as Yi et al. sample binarised MNIST)."""
    k_z, k_x = jax.random.split(key)
    z = jax.random.normal(k_z if binary else key, (labels.shape[0], model.latent), DTYPE)
    mean = jax.vmap(model.decode)(z, labels)
    if not binary:
        return mean
    return jax.random.bernoulli(k_x, mean).astype(DTYPE)
