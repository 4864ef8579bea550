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

from collapse_jax.core import _random
from collapse_jax.core._types import Array, Float, Int, Key
from collapse_jax.core._validate import InvalidInput, check_float, check_int
from collapse_jax.core.nets.train import weighted_mean

DTYPE = jnp.float32
#: ``arch`` values of :func:`cvae_like`: the one-hidden-layer MLP CVAE, or Yi et al.'s
#: convolutional CVAE (``ConvEncoder2D`` / ``ConvDecoder2D`` of their ``MNIST/src/models.py``).
ARCHS = ("mlp", "conv")


class _CVAEBase(eqx.Module):
    """What every CVAE of this module shares: the likelihood, the loss and sampling, given its
    ``encode`` and ``decode_logits`` (one example each), and the static latent size, class
    count and likelihood noise (:meth:`_set_common`)."""

    latent: int = eqx.field(static=True)
    classes: int = eqx.field(static=True)
    noise: float = eqx.field(static=True)

    def _set_common(self, fn: str, latent: int, classes: int, noise: float):
        """Validate and set the fields every CVAE has (called from ``__init__``)."""
        self.latent = check_int(fn, "latent", latent, 1, 512)
        self.classes = check_int(fn, "classes", classes, 2)
        self.noise = check_float(fn, "noise", noise, 0.0, 10.0)

    def _onehot(self, y):
        return jax.nn.one_hot(y, self.classes, dtype=DTYPE)

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


class CVAE(_CVAEBase):
    """Conditional VAE on flattened images in [0, 1] with ``classes`` labels."""

    enc_hidden: eqx.nn.Linear
    enc_out: eqx.nn.Linear
    dec_hidden: eqx.nn.Linear
    dec_out: eqx.nn.Linear

    def __init__(self, dim: int, latent: int, hidden: int, classes: int = 10,
                 noise: float = 0.0, *, key: Key):
        fn = "CVAE"
        dim = check_int(fn, "dim", dim, 1)
        self._set_common(fn, latent, classes, noise)
        latent, classes = self.latent, self.classes
        hidden = check_int(fn, "hidden", hidden, 1)
        k1, k2, k3, k4 = jax.random.split(key, 4)
        self.enc_hidden = eqx.nn.Linear(dim + classes, hidden, dtype=DTYPE, key=k1)
        self.enc_out = eqx.nn.Linear(hidden, 2 * latent, dtype=DTYPE, key=k2)
        self.dec_hidden = eqx.nn.Linear(latent + classes, hidden, dtype=DTYPE, key=k3)
        self.dec_out = eqx.nn.Linear(hidden, dim, dtype=DTYPE, key=k4)

    def encode(self, x: Float[Array, " dim"], y: Int[Array, ""]):
        """Mean and log-variance of ``q(z | x, y)``."""
        h = jax.nn.relu(self.enc_hidden(jnp.concatenate([x.astype(DTYPE), self._onehot(y)])))
        out = self.enc_out(h)
        return out[: self.latent], jnp.clip(out[self.latent:], -10.0, 10.0)

    def decode_logits(self, z: Float[Array, " latent"], y: Int[Array, ""]):
        """Pixel logits of ``p(x | z, y)``."""
        h = jax.nn.relu(self.dec_hidden(jnp.concatenate([z.astype(DTYPE), self._onehot(y)])))
        return self.dec_out(h)


def conv_side(dim: int) -> int | None:
    """The side of the square images of ``dim`` pixels that :class:`ConvCVAE` takes (a multiple
    of 4: two stride-2 halvings), or ``None`` where it takes none."""
    side = int(round(dim ** 0.5))
    return side if side * side == dim and side % 4 == 0 else None


def _gelu(x):
    return jax.nn.gelu(x, approximate=False)  # PyTorch's nn.GELU() is the exact (erf) one


def patch_conv(layer, x):
    """``layer(x)`` for a kernel-4, stride-2, padding-1 ``eqx.nn.Conv2d`` or
    ``eqx.nn.ConvTranspose2d`` of one example ``x`` ``(in, H, W)``, computed as image patches
    (strided slices) times weight matrices.

    The same numbers as ``layer(x)`` (tests/vae/test_models.py), but under ``vmap`` over seeds
    (a different layer per seed) XLA turns a convolution into a grouped convolution, with
    which its CPU backend trained the CVAE in 143 s against 1.8 s for the MLP CVAE on the same
    data (8x8 digits, 24 seeds, 500 steps); with slices and batched matrix products, which
    vmap batches well, 39 s. Any other layer shape is refused.
    The transposed convolution is computed by output phase: pixel ``(2m + a, 2n + b)`` of the
    output is a 2x2 convolution of the input padded by 1 (taps ``(a + s, b + r)``, ``s, r`` in
    ``{0, 1}``) with the kernel entries ``(a + 2 s, b + 2 r)`` (equinox's weight layout), so
    none of the zeros a dilated input would hold is multiplied."""
    k = layer.weight.shape[-1]
    transposed = isinstance(layer, eqx.nn.ConvTranspose)
    shape = (tuple(layer.kernel_size), tuple(layer.stride), tuple(map(tuple, layer.padding)),
             tuple(layer.dilation), layer.groups,
             tuple(layer.output_padding) if transposed else (0, 0))
    if shape != ((4, 4), (2, 2), ((1, 1), (1, 1)), (1, 1), 1, (0, 0)):
        raise InvalidInput(f"patch_conv: layer (kernel_size, stride, padding, dilation, groups, "
                           f"output_padding)={shape} is out of range; allowed kernel 4, stride "
                           "2, padding 1, no dilation, one group, no output padding")
    _, h, w = x.shape
    out = layer.weight.shape[0]
    xp = jax.lax.pad(x, jnp.zeros((), x.dtype), [(0, 0, 0), (1, 1, 0), (1, 1, 0)])
    if not transposed:
        h, w = h // 2, w // 2
        p = jnp.stack([xp[:, i:i + 2 * h - 1:2, j:j + 2 * w - 1:2]
                       for i in range(k) for j in range(k)], axis=1)  # (in, k k, h, w)
        wmat = layer.weight.reshape(out, -1)  # (out, in k k): the patches' order
        return jnp.einsum("fhw,of->ohw", p.reshape(-1, h, w), wmat) + layer.bias
    rows = []
    for a in (0, 1):
        cols = []
        for b in (0, 1):
            p = jnp.stack([xp[:, a + s:a + s + h, b + r:b + r + w]
                           for s in (0, 1) for r in (0, 1)], axis=1)  # (in, 4, h, w)
            wsub = layer.weight[:, :, a::2, b::2].reshape(out, -1)  # entries (a + 2s, b + 2r)
            cols.append(jnp.einsum("fhw,of->ohw", p.reshape(-1, h, w), wsub))
        rows.append(jnp.stack(cols, axis=-1))  # (out, h, w, 2): column phase b
    return jnp.stack(rows, axis=2).reshape(out, 2 * h, 2 * w) + layer.bias


class ConvCVAE(_CVAEBase):
    """Yi et al.'s convolutional CVAE on ``side x side`` images (``side`` a multiple of 4;
    theirs: 28). Encoder: ``Conv(1 -> 32, 4, stride 2, pad 1)``, GELU, ``Conv(32 -> 64, 4, 2,
    1)``, GELU, then one linear layer from the flattened ``64 (side/4)^2`` features and the
    one-hot label to ``(mu, logvar)``. Decoder: one linear layer from ``(z, label)`` to ``64 x
    side/4 x side/4``, ``ConvTranspose(64 -> 32, 4, 2, 1)``, GELU, ``ConvTranspose(32 -> 1, 4,
    2, 1)``: pixel logits. The likelihood, loss and sampling are :class:`CVAE`'s."""

    enc_conv1: eqx.nn.Conv2d
    enc_conv2: eqx.nn.Conv2d
    enc_out: eqx.nn.Linear
    dec_in: eqx.nn.Linear
    dec_conv1: eqx.nn.ConvTranspose2d
    dec_conv2: eqx.nn.ConvTranspose2d
    side: int = eqx.field(static=True)

    def __init__(self, dim: int, latent: int, hidden: int = 0, classes: int = 10,
                 noise: float = 0.0, *, key: Key):
        fn = "ConvCVAE"
        side = conv_side(check_int(fn, "dim", dim, 16))
        if side is None:
            raise InvalidInput(f"{fn}: dim={dim} is out of range; allowed side x side images with "
                               "side a multiple of 4 (64 = 8x8, 784 = 28x28; 14x14 = 196 does "
                               "not halve twice)")
        self._set_common(fn, latent, classes, noise)
        latent, classes = self.latent, self.classes
        del hidden  # the channel counts are Yi et al.'s
        ks = jax.random.split(key, 6)
        q = side // 4
        conv = dict(kernel_size=4, stride=2, padding=1, dtype=DTYPE)
        self.enc_conv1 = eqx.nn.Conv2d(1, 32, key=ks[0], **conv)
        self.enc_conv2 = eqx.nn.Conv2d(32, 64, key=ks[1], **conv)
        self.enc_out = eqx.nn.Linear(64 * q * q + classes, 2 * latent, dtype=DTYPE, key=ks[2])
        self.dec_in = eqx.nn.Linear(latent + classes, 64 * q * q, dtype=DTYPE, key=ks[3])
        self.dec_conv1 = eqx.nn.ConvTranspose2d(64, 32, key=ks[4], **conv)
        self.dec_conv2 = eqx.nn.ConvTranspose2d(32, 1, key=ks[5], **conv)
        self.side = side

    def encode(self, x: Float[Array, " dim"], y: Int[Array, ""]):
        """Mean and log-variance of ``q(z | x, y)``."""
        h = x.astype(DTYPE).reshape(1, self.side, self.side)
        h = _gelu(patch_conv(self.enc_conv2, _gelu(patch_conv(self.enc_conv1, h))))
        out = self.enc_out(jnp.concatenate([h.reshape(-1), self._onehot(y)]))
        return out[: self.latent], jnp.clip(out[self.latent:], -10.0, 10.0)

    def decode_logits(self, z: Float[Array, " latent"], y: Int[Array, ""]):
        """Pixel logits of ``p(x | z, y)``."""
        q = self.side // 4
        h = self.dec_in(jnp.concatenate([z.astype(DTYPE), self._onehot(y)])).reshape(64, q, q)
        return patch_conv(self.dec_conv2, _gelu(patch_conv(self.dec_conv1, h))).reshape(-1)


def cvae_like(arch: str, dim: int, latent: int, hidden: int, classes: int, noise: float,
              key: Key):
    """The shapes (``eqx.filter_eval_shape``) of a CVAE of ``arch`` (:data:`ARCHS`): what
    :func:`~collapse_jax.core.nets.init.reinit` fills with fresh weights."""
    make = {"mlp": CVAE, "conv": ConvCVAE}[arch]
    return eqx.filter_eval_shape(make, dim, latent, hidden, classes, noise, key=key)


def neg_elbo(model: CVAE, key: Key, x: Float[Array, "b dim"], y: Int[Array, " b"],
             weights: Float[Array, " b"] | None = None):
    """Mean negative ELBO over a batch (one reparameterisation draw per example); with
    ``weights``, ``sum(weights * loss) / b`` (a masked partial batch;
    :func:`~collapse_jax.core.nets.train.weighted_mean`)."""
    eps = _random.normal(key, (x.shape[0], model.latent), DTYPE)
    loss, _ = jax.vmap(model.loss)(x, y, eps)
    return weighted_mean(loss, weights)


def generate(model: CVAE, key: Key, labels: Int[Array, " m"], binary: bool = False
             ) -> Float[Array, "m dim"]:
    """Images of the given classes, one latent draw each: decoder means, or with
    ``binary=True`` samples of the Bernoulli likelihood (every pixel drawn 0 or 1 with the
    decoder's probability, as Yi et al. sample binarised MNIST)."""
    k_z, k_x = jax.random.split(key)
    z = _random.normal(k_z if binary else key, (labels.shape[0], model.latent), DTYPE)
    mean = jax.vmap(model.decode)(z, labels)
    if not binary:
        return mean
    return _random.bernoulli(k_x, mean).astype(DTYPE)
