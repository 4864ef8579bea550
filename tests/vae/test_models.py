"""The neural pieces: data loading, CVAE, classifier-verifier, scanned training, metrics."""

import gzip
import struct

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from collapse_jax.core.gaussian import w2_squared
from collapse_jax.core.nets import classifier as nc
from collapse_jax.core.nets import cvae as nv
from collapse_jax.core.nets import data as nd
from collapse_jax.core.nets import init as ni
from collapse_jax.core.nets import metrics as nm
from collapse_jax.core.nets import train as nt
from collapse_jax.vae import kernel as nr

STEPS = 150


@pytest.fixture(scope="module")
def digits():
    split = nd.stratified_split(nd.load_digits(), seed=0)
    return (jnp.asarray(split.train.x), jnp.asarray(split.train.y),
            jnp.asarray(split.test.x), jnp.asarray(split.test.y))


@pytest.fixture(scope="module")
def vae_fit(digits):
    """One compiled CVAE training run (reused by several tests)."""
    x, y, _, _ = digits
    cfg = nt.train_config(steps=STEPS, batch=32, lr=5e-3)

    def run(key):
        k_init, k_fit = jax.random.split(key)
        like = eqx.filter_eval_shape(nv.CVAE, 64, 4, 32, 10, 0.1, key=k_init)
        return nt.fit(k_fit, ni.reinit(like, k_init), nv.neg_elbo, x, y, 100, cfg)

    return jax.jit(run), jax.jit(jax.vmap(run))


# ---- data -------------------------------------------------------------------------------

def test_digits_are_float32_in_unit_interval():
    d = nd.load_digits()
    assert d.x.shape == (1797, 64) and d.x.dtype == np.float32 and d.side == 8
    assert d.x.min() == 0.0 and d.x.max() == 1.0
    assert set(np.unique(d.y)) == set(range(10))


def test_digits_without_sklearn_are_sklearns_arrays(monkeypatch):
    from sklearn.datasets import load_digits as sk

    ref = sk()
    d = nd.load_digits()  # read from the shipped CSV, no sklearn import
    np.testing.assert_array_equal(d.x, (np.asarray(ref.data, np.float32) / 16.0))
    np.testing.assert_array_equal(d.y, ref.target)
    monkeypatch.setattr(nd, "_digits_csv", lambda: None)  # the fallback asks sklearn
    e = nd.load_digits()
    np.testing.assert_array_equal(e.x, d.x)
    np.testing.assert_array_equal(e.y, d.y)


def test_stratified_split_is_fixed_and_disjoint():
    d = nd.load_digits()
    a, b = nd.stratified_split(d, seed=3), nd.stratified_split(d, seed=3)
    np.testing.assert_array_equal(a.test.x, b.test.x)
    assert a.train.y.shape[0] + a.test.y.shape[0] == 1797
    frac = np.bincount(a.test.y, minlength=10) / np.bincount(d.y, minlength=10)
    assert np.all(np.abs(frac - 0.3) < 0.02)


def _write_idx(path, arr, gz=False):
    arr = np.asarray(arr, np.uint8)
    head = bytes([0, 0, 8, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    (gzip.open if gz else open)(path, "wb").write(head + arr.tobytes())


def test_load_mnist_reads_idx_and_npz(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (30, 28, 28), dtype=np.uint8)
    y = np.arange(30) % 10
    _write_idx(tmp_path / "train-images-idx3-ubyte.gz", x, gz=True)
    _write_idx(tmp_path / "train-labels-idx1-ubyte.gz", y, gz=True)
    d = nd.load_mnist(str(tmp_path / "train-images-idx3-ubyte.gz"))
    assert d.x.shape == (30, 196) and d.side == 14 and d.x.dtype == np.float32
    pooled = x.astype(np.float32).reshape(30, 14, 2, 14, 2).mean(axis=(2, 4)) / 255.0
    np.testing.assert_allclose(d.x, pooled.reshape(30, -1), rtol=1e-6)
    np.testing.assert_array_equal(d.y, y)
    assert nd.load_mnist(str(tmp_path)).x.shape == (30, 196)  # a folder works too
    np.savez(tmp_path / "m.npz", x_train=x, y_train=y)
    np.testing.assert_allclose(nd.load_mnist(str(tmp_path / "m.npz"), pool=1).x,
                               x.reshape(30, -1) / 255.0, rtol=1e-6)


@pytest.mark.parametrize("content", [b"", b"not an idx file", bytes([0, 0, 8, 3, 0, 0])])
def test_load_mnist_rejects_missing_and_malformed(tmp_path, content):
    with pytest.raises(ValueError, match="load_mnist: path="):
        nd.load_mnist(str(tmp_path / "absent.npz"))
    p = tmp_path / "train-images-idx3-ubyte"
    p.write_bytes(content)
    _write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(3))
    with pytest.raises(ValueError, match="load_mnist: path="):
        nd.load_mnist(str(p))
    bad = tmp_path / "bad.npz"
    bad.write_bytes(content + b"junk")
    with pytest.raises(ValueError, match="load_mnist: path="):
        nd.load_mnist(str(bad))


# ---- models -----------------------------------------------------------------------------

def test_model_shapes_and_float32():
    key = jax.random.key(0)
    vae = nv.CVAE(64, 5, 16, 10, 0.1, key=key)
    x = jnp.full((64,), 0.5)
    mu, logvar = vae.encode(x, jnp.int32(3))
    assert mu.shape == logvar.shape == (5,)
    assert vae.sample(key, jnp.int32(3)).shape == (64,)
    loss, (rec, kl) = vae(x, jnp.int32(3), key)
    assert loss.shape == () and loss.dtype == jnp.float32 and float(kl) >= 0
    imgs = nv.generate(vae, key, jnp.arange(7) % 10)
    assert imgs.shape == (7, 64) and float(imgs.min()) >= 0 and float(imgs.max()) <= 1
    clf = nc.Classifier(64, 16, 8, key=key)
    assert clf(x).shape == (10,) and clf.features(x).shape == (8,)
    assert all(leaf.dtype == jnp.float32 for leaf in jax.tree.leaves((vae, clf)))
    with pytest.raises(ValueError, match="CVAE: latent=0"):
        nv.CVAE(64, 0, 16, key=key)


def test_neg_elbo_jit_equals_eager(digits):
    x, y, _, _ = digits
    vae = nv.CVAE(64, 4, 32, 10, 0.1, key=jax.random.key(1))
    key = jax.random.key(2)
    eager = nv.neg_elbo(vae, key, x[:40], y[:40])
    np.testing.assert_allclose(jax.jit(nv.neg_elbo)(vae, key, x[:40], y[:40]), eager,
                               rtol=1e-5)


def test_reinit_matches_equinox_init_distribution():
    like = eqx.filter_eval_shape(nv.CVAE, 64, 4, 32, 10, key=jax.random.key(0))
    a = ni.reinit(like, jax.random.key(5))
    b = ni.reinit(like, jax.random.key(5))
    for la, lb in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_array_equal(la, lb)
    w = np.asarray(a.enc_hidden.weight)
    lim = 1 / np.sqrt(74)
    assert w.shape == (32, 74) and np.abs(w).max() <= lim
    # U(-lim, lim) has variance lim^2 / 3.
    assert abs(w.var() / (lim**2 / 3) - 1) < 4 * np.sqrt(2 / w.size)


@pytest.mark.parametrize("side", [8, 28])
def test_patch_conv_is_equinox_convolution_and_vmaps_over_layers(side):
    """The convolutions of Yi et al.'s CVAE (kernel 4, stride 2, padding 1; transposed: the
    output phases) give the numbers of equinox's own layers, also vmapped over a batch of
    layers (one per seed) and examples; the sides halve and double as theirs (28 -> 14 -> 7
    and back)."""
    keys = jax.random.split(jax.random.key(0), 3)
    x = jax.random.normal(jax.random.key(1), (5, 3, side, side), jnp.float32)
    for make, out_side in ((eqx.nn.Conv2d, side // 2), (eqx.nn.ConvTranspose2d, 2 * side)):
        layers = jax.vmap(lambda k, make=make: make(3, 4, 4, stride=2, padding=1,
                                                    dtype=jnp.float32, key=k))(keys)
        got = jax.vmap(lambda lay: jax.vmap(lambda xi: nv.patch_conv(lay, xi))(x))(layers)
        want = jax.vmap(lambda lay: jax.vmap(lay)(x))(layers)
        assert got.shape == want.shape == (3, 5, 4, out_side, out_side)
        # float32 sums of 48 (64 for the transposed phases) products in another order
        np.testing.assert_allclose(got, want, rtol=0, atol=64 * np.finfo(np.float32).eps
                                   * float(jnp.max(jnp.abs(want))))
    for bad in (eqx.nn.Conv2d(3, 4, 3, stride=2, padding=1, key=keys[0]),
                eqx.nn.Conv2d(3, 4, 4, stride=1, padding=1, key=keys[0]),
                eqx.nn.ConvTranspose2d(3, 4, 4, stride=2, padding=1, output_padding=1,
                                       key=keys[0])):
        with pytest.raises(ValueError, match="patch_conv: layer"):
            nv.patch_conv(bad, x[0])


def test_conv_cvae_is_the_authors_architecture():
    """``ConvCVAE``: Yi et al.'s ConvEncoder2D / ConvDecoder2D (their MNIST/src/models.py) at
    28x28 and 8x8; 14x14 (which does not halve twice) is refused; fresh weights follow
    PyTorch's default bounds 1 / sqrt(fan_in), fan_in = in_channels x 16 for a convolution
    and out_channels x 16 for a transposed one."""
    key = jax.random.key(0)
    for side in (8, 28):
        vae = nv.ConvCVAE(side * side, 20, key=key)
        q = side // 4
        assert vae.enc_out.weight.shape == (40, 64 * q * q + 10)
        assert vae.dec_in.weight.shape == (64 * q * q, 30)
        x, y = jnp.full((side * side,), 0.5), jnp.int32(3)
        mu, logvar, image, (loss, (rec, kl)) = eqx.filter_jit(
            lambda m, x, y: (*m.encode(x, y), m.decode(m.encode(x, y)[0], y), m(x, y, key))
        )(vae, x, y)
        assert mu.shape == logvar.shape == (20,) and image.shape == (side * side,)
        assert np.isfinite(float(loss)) and float(kl) >= 0
        assert all(leaf.dtype == jnp.float32 for leaf in jax.tree.leaves(vae))
    with pytest.raises(ValueError, match="ConvCVAE: dim=196"):
        nv.ConvCVAE(196, 20, key=key)
    like = nv.cvae_like("conv", 784, 20, 0, 10, 0.0, key)
    fresh = ni.reinit(like, jax.random.key(3))
    for layer, fan_in in ((fresh.enc_conv1, 16), (fresh.enc_conv2, 32 * 16),
                          (fresh.dec_conv1, 32 * 16), (fresh.dec_conv2, 16),
                          (fresh.enc_out, 64 * 49 + 10)):
        w, lim = np.asarray(layer.weight), 1 / np.sqrt(fan_in)
        assert np.abs(w).max() <= lim
        assert abs(w.var() / (lim**2 / 3) - 1) < 4 * np.sqrt(2 / w.size)
    with pytest.raises(ValueError, match="retrain_config: arch='conv'"):
        nr.retrain_config(dim=196, arch="conv")
    with pytest.raises(ValueError, match="retrain_config: arch"):
        nr.retrain_config(arch="resnet")


@pytest.mark.heavy_memory
def test_conv_cvae_learns_and_runs_the_retraining_loop(digits):
    """One seed of the whole verified retraining loop (discriminator verifier, Bernoulli
    samples, candidates in batches) runs with the convolutional CVAE on the 8x8 digits, with
    finite metrics in every round; its round-0 model, 20 Adam steps in, has a held-out
    negative ELBO below 0.8 of a fresh model's (it learns)."""
    x, y, tx, ty = digits
    rc = nr.retrain_config(latent=4, rounds=2, steps=20, verifier_steps=20, n_real=100,
                           n_keep=100, n_eval=100, verifier_max=200, noise=0.0, binary=True,
                           verifier_kind="discriminator", arch="conv", verifier_hidden=16,
                           verifier_features=8, candidate_batch=30)
    assert (rc.candidates_c, rc.cand_batch_c) == (100, 30)  # 4 batches, the last cut at 10
    split = nd.Split(nd.ImageData(np.asarray(x), np.asarray(y), 8, "digits"),
                     nd.ImageData(np.asarray(tx), np.asarray(ty), 8, "digits"))
    feat = nr.feature_network(jax.random.key(2), split, steps=50)
    real = nr.real_set(split, feat, rc)
    params = nr.retrain_params(rc, real, keep=0.5, verifier_size=200)
    final, metrics = jax.jit(nr.retrain_kernel, static_argnums=2)(jax.random.key(4), params, rc)
    for name in ("fd_real", "test_elbo", "accept", "train_size"):
        assert metrics[name].shape == (3,) and np.all(np.isfinite(metrics[name])), name
    like = nv.cvae_like("conv", 64, 4, 0, 10, 0.0, jax.random.key(0))
    fresh = jax.jit(lambda k: nv.neg_elbo(ni.reinit(like, k), k, tx, ty))(jax.random.key(5))
    assert float(metrics["test_elbo"][0]) < 0.8 * float(fresh), (metrics["test_elbo"], fresh)
    assert np.isfinite(float(final.verifier_acc))


def test_candidates_in_batches_keep_the_top_of_their_union():
    """A round's candidates generated and scored in batches (``candidate_batch``, the last
    batch cut at the round's count) give the top of each class among all of them: the same
    images, best first, as ranking every batch's candidates at once; only the first
    ``n_cand`` of each class compete. Random selection (``verify = 0``) keeps as many."""
    C, b = 10, 7
    cfg = nr.retrain_config(rounds=2, n_real=100, n_keep=50, n_eval=100, keep_min=0.2,
                            noise=0.0, binary=True, candidate_batch=b)
    assert (cfg.candidates_c, cfg.cand_batch_c, cfg.n_keep_c) == (25, 7, 5)
    model = nv.CVAE(64, 4, 16, C, 0.0, key=jax.random.key(0))

    def vscore(x, y):
        return jnp.sum(x * jnp.linspace(-1.0, 1.0, 64), axis=-1) + 0.01 * y

    key = jax.random.key(3)
    tops = []
    for n_cand in (25, 18):
        got = jax.jit(lambda k, n=n_cand: nr.top_candidates(model, vscore, k, 1.0, n, cfg))(key)
        k_draw, _ = jax.random.split(key)
        y = jnp.repeat(jnp.arange(C), b)
        xs = jnp.concatenate([nv.generate(model, jax.random.fold_in(k_draw, j), y, True)
                              .reshape(C, b, 64) for j in range(4)], axis=1)[:, :n_cand]
        sc = jax.vmap(lambda x, c: vscore(x, jnp.full(x.shape[0], c)))(xs, jnp.arange(C))
        want = jnp.take_along_axis(xs, jnp.argsort(-sc, axis=1)[:, :5, None], axis=1)
        np.testing.assert_array_equal(got, want)
        tops.append(got)
    assert not np.array_equal(*tops)  # the cut at n_cand changes which images win
    rand = nr.top_candidates(model, vscore, key, 0.0, 25, cfg)
    assert rand.shape == (C, 5, 64) and not np.array_equal(rand, got)
    with pytest.raises(ValueError, match="retrain_config: candidate_batch=26"):
        nr.retrain_config(rounds=2, n_real=100, n_keep=50, n_eval=100, keep_min=0.2,
                          candidate_batch=26)


# ---- training ---------------------------------------------------------------------------

def test_elbo_finite_and_decreasing(vae_fit):
    single, _ = vae_fit
    _, losses = single(jax.random.key(0))
    losses = np.asarray(losses)
    assert losses.shape == (STEPS,) and np.all(np.isfinite(losses))
    assert losses[-20:].mean() < 0.7 * losses[:20].mean()


def test_training_vmap_equals_loop_and_same_key_same_output(vae_fit):
    single, batched = vae_fit
    keys = jax.random.split(jax.random.key(7), 3)
    _, lv = batched(keys)
    for i in range(3):
        _, li = single(keys[i])
        # float32 networks: vmap batches the products differently, so the losses agree to
        # float32 rounding (observed <= 1.5 eps relative over the 150 steps; bound 32 eps).
        np.testing.assert_allclose(lv[i], li, rtol=32 * np.finfo(np.float32).eps, atol=0)
    np.testing.assert_array_equal(single(keys[0])[1], single(keys[0])[1])
    assert not np.allclose(lv[0], lv[1])


def test_train_config_validates():
    with pytest.raises(ValueError, match="train_config: steps=0"):
        nt.train_config(steps=0)
    with pytest.raises(ValueError, match="train_config: lr=0"):
        nt.train_config(lr=0.0)


# ---- verifier ---------------------------------------------------------------------------

def test_verifier_quality_grows_with_its_real_data(digits):
    x, y, tx, ty = digits
    cfg = nt.train_config(steps=400, batch=32, lr=5e-3, weight_decay=1e-4)
    order = nr.balanced_order(jax.random.key(0), y, 10)
    xo, yo = x[order], y[order]

    @jax.jit
    def run(key, count):
        like = eqx.filter_eval_shape(nc.Classifier, 64, 32, 16, key=key)
        m, _ = nt.fit(key, ni.reinit(like, key), nc.cross_entropy, xo, yo, count, cfg)
        return nc.accuracy(m, tx, ty), nc.log_confidence(m, tx, ty)

    acc_strong, conf = run(jax.random.key(1), 1000)
    acc_weak, _ = run(jax.random.key(1), 20)
    # Accuracy on n = 539 held-out digits has SE <= sqrt(0.25 / n) = 0.022 each, so a gap
    # of 0.05 between the two is > 1.6 SE of the difference even at the worst-case p = 1/2.
    se = np.sqrt(0.25 / ty.shape[0])
    assert float(acc_strong) > 0.9
    assert float(acc_weak) < float(acc_strong) - 1.6 * np.sqrt(2) * se
    assert float(jnp.max(conf)) <= 0.0
    # The verifier keeps the top fraction of each class by its log-confidence.
    keep = nr.top_fraction_mask(conf, ty, 0.1, 10)
    counts = np.bincount(np.asarray(ty), minlength=10)
    np.testing.assert_array_equal(np.bincount(np.asarray(ty)[np.asarray(keep)], minlength=10),
                                  np.ceil(0.1 * counts))
    c, t, k = np.asarray(conf), np.asarray(ty), np.asarray(keep)
    for cls in range(10):
        assert c[(t == cls) & k].min() >= c[(t == cls) & ~k].max()


@pytest.mark.parametrize("net", ["small", "yi"])
def test_discriminator_verifier_tells_real_from_generated(digits, net):
    """Yi et al.'s verifier kind: a CVAE trained on the verifier's 500 real digits supplies
    the fake class; the real-vs-fake network's held-out accuracy (539 real and 539 fresh
    fakes) beats chance by more than 3 standard errors of a coin (sqrt(0.25 / 1078) =
    0.015), with the small MLP and with the authors' network. Its score, log p(real | x),
    ignores the class."""
    x, y, tx, ty = digits
    cfg = nr.retrain_config(latent=4, hidden=32, steps=STEPS, verifier_steps=400,
                            verifier_hidden=32, verifier_features=16, n_real=100, n_keep=100,
                            n_eval=100, verifier_max=500, verifier_kind="discriminator",
                            discriminator=net)
    real = nr.RealSet(x, y, tx, ty, *([None] * 6))
    order = nr.balanced_order(jax.random.key(0), y, 10)[:500]

    @jax.jit
    def run(key):
        k_init, k_fit, k_gen = jax.random.split(key, 3)
        like = eqx.filter_eval_shape(nv.CVAE, 64, 4, 32, 10, 0.1, key=k_init)
        _, acc, score, _ = nr._verifier(k_init, k_fit, real, order, like, 500, cfg)
        return acc, score(tx, ty), score(tx, (ty + 1) % 10)

    acc, s_real, s_other = run(jax.random.key(2))
    assert float(acc) > 0.5 + 3 * np.sqrt(0.25 / (2 * ty.shape[0])), float(acc)
    assert float(jnp.max(s_real)) <= 0.0
    np.testing.assert_array_equal(s_real, s_other)
    with pytest.raises(ValueError, match="verifier_kind"):
        nr.retrain_config(verifier_kind="oracle")
    with pytest.raises(ValueError, match="retrain_config: discriminator"):
        nr.retrain_config(discriminator="big")


def test_authors_discriminator_is_their_network_and_its_score_is_log_sigmoid():
    """``Discriminator``: Yi et al.'s SyntheticDiscriminator (784 -> 512 -> 256 -> 128 -> 64 ->
    1, LeakyReLU 0.2); as two-class logits ``(0, logit)`` its log-confidence in class 1 is
    ``log sigmoid(logit)`` and the cross-entropy their binary cross-entropy with logits."""
    key = jax.random.key(0)
    net = ni.reinit(eqx.filter_eval_shape(nc.Discriminator, 784, key=key), key)
    assert [lay.weight.shape for lay in net.layers] == [(512, 784), (256, 512), (128, 256),
                                                         (64, 128), (1, 64)]
    x = jax.random.uniform(jax.random.key(1), (20, 784), jnp.float32)
    logits = jax.vmap(net)(x)
    assert logits.shape == (20, 2) and np.all(np.asarray(logits[:, 0]) == 0)
    score = nc.log_confidence(net, x, jnp.ones(20, jnp.int32))
    np.testing.assert_allclose(score, jax.nn.log_sigmoid(logits[:, 1]), rtol=1e-5, atol=1e-6)
    h = x
    for lay in net.layers[:-1]:
        h = jnp.where(jax.vmap(lay)(h) > 0, jax.vmap(lay)(h), 0.2 * jax.vmap(lay)(h))
    np.testing.assert_allclose(logits[:, 1], jax.vmap(net.layers[-1])(h)[:, 0], rtol=1e-5,
                               atol=1e-6)


def test_balanced_order_prefixes_are_balanced(digits):
    _, y, _, _ = digits
    order = np.asarray(nr.balanced_order(jax.random.key(3), y, 10))
    assert sorted(order) == list(range(y.shape[0]))
    for r in (1, 5, 20):
        np.testing.assert_array_equal(np.bincount(np.asarray(y)[order[: 10 * r]], minlength=10),
                                      np.full(10, r))


# ---- metrics ----------------------------------------------------------------------------

def test_frechet_distance_is_the_gaussian_w2():
    rng = np.random.default_rng(0)
    a = jnp.asarray(rng.normal(size=(400, 3)))
    b = jnp.asarray(rng.normal(size=(300, 3)) * 1.5 + 0.3)
    mb, cb = nm.feature_gaussian(b)
    ma, ca = np.mean(np.asarray(a), 0), np.cov(np.asarray(a).T, bias=True)
    np.testing.assert_allclose(nm.frechet_distance(a, mb, cb), w2_squared(ma, ca, mb, cb),
                               rtol=1e-10)
    ma2, ca2 = nm.feature_gaussian(a)
    assert abs(float(nm.frechet_distance(a, ma2, ca2))) < 1e-8


def test_newton_schulz_survives_a_rank_deficient_matrix():
    """Zero eigenvalues that rounding makes slightly negative (a collapsed generator's
    features) made the coupled iteration overflow to NaN; with the lift the square root's
    trace is within k sqrt(NS_RIDGE ||A||_F) of the exact one."""
    rng = np.random.default_rng(1)
    q, _ = np.linalg.qr(rng.normal(size=(8, 8)))
    eig = np.array([4.0, 1.0, 0.25, 0.0, 0.0, 0.0, -1e-15, -1e-17])
    a = jnp.asarray((q * eig) @ q.T)
    root = nm.sqrtm_newton_schulz(a)
    exact = np.sum(np.sqrt(np.maximum(eig, 0.0)))
    bound = 8 * np.sqrt(nm.NS_RIDGE * np.linalg.norm(np.asarray(a)))
    assert np.all(np.isfinite(np.asarray(root)))
    assert abs(float(jnp.trace(root)) - exact) < bound, (float(jnp.trace(root)), exact, bound)


def test_precision_recall_coverage_and_pixel_variance():
    rng = np.random.default_rng(1)
    f = jnp.asarray(rng.normal(size=(60, 4)))
    y = jnp.asarray(np.arange(60) % 3)
    radii = nm.knn_radii(f, y, 2)
    p, r, c = nm.precision_recall_coverage(f, y, f, y, radii, 2)
    assert float(p) == float(r) == float(c) == 1.0
    far = f + 100.0
    p, r, c = nm.precision_recall_coverage(far, y, f, y, radii, 2)
    assert float(p) == float(r) == float(c) == 0.0
    x = jnp.asarray(rng.uniform(size=(60, 5)))
    want = np.mean([np.asarray(x)[np.asarray(y) == k].var(0).mean() for k in range(3)])
    np.testing.assert_allclose(nm.pixel_variance(x, y, 3), want, rtol=1e-6)
    # Thresholded at 1/2: sharpening every image (grey -> 0/1 at the same side of 1/2)
    # leaves it unchanged while the plain pixel variance rises; sharpness goes to 1.
    sharp = (x > 0.5).astype(x.dtype)
    np.testing.assert_allclose(nm.binary_pixel_variance(x, y, 3),
                               nm.pixel_variance(sharp, y, 3), rtol=1e-12)
    np.testing.assert_allclose(nm.binary_pixel_variance(0.5 + 0.1 * (sharp - 0.5), y, 3),
                               nm.binary_pixel_variance(sharp, y, 3), rtol=1e-12)
    assert float(nm.pixel_variance(sharp, y, 3)) > float(nm.pixel_variance(x, y, 3))
    assert float(nm.sharpness(sharp)) == 1.0 and float(nm.sharpness(jnp.full((3, 5), 0.5))) == 0
    want_sharp = np.mean(np.abs(2 * np.asarray(x) - 1))
    np.testing.assert_allclose(nm.sharpness(x), want_sharp, rtol=1e-12)


def test_retrain_config_and_params_validate(digits):
    with pytest.raises(ValueError, match="retrain_config: n_keep=55"):
        nr.retrain_config(n_keep=55)
    with pytest.raises(ValueError, match="retrain_config: keep_min=0"):
        nr.retrain_config(keep_min=0.0)
    cfg = nr.retrain_config(rounds=2, n_real=100, n_keep=100, n_eval=100, keep_min=0.25)
    assert cfg.candidates_c == 40 and cfg.pool == 100
    assert nr.retrain_config(rounds=2, n_real=100, n_keep=100, n_eval=100,
                             accumulate=True).pool == 100 + 3 * 100
    # retrain_params reads only the real pool's labels before tracing.
    _, y, _, _ = digits
    real = nr.RealSet(*([None] * len(nr.RealSet._fields)))._replace(train_y=y)
    p = nr.retrain_params(cfg, real, keep=[0.25, 0.5], verify=[1, 0], shared=True)
    assert p.keep.shape == (2,) and p.real is None
    np.testing.assert_array_equal(np.asarray(p.n_keep), [100, 100])  # the config's, by default
    q = nr.retrain_params(cfg, real, keep=0.5, n_keep=[20, 60, 100], shared=True)
    np.testing.assert_array_equal(np.asarray(q.n_keep), [20, 60, 100])
    bad = [({"keep": [[0.5]]}, "1-D sweeps"),
           ({"keep": [0.5, 0.6], "verify": [1, 0, 1]}, "do not broadcast"),
           ({"keep": [0.5, 0.6]}, "needs shared=True"),
           ({"keep": 0.1}, "keep=0.1"),
           ({"keep": 0.5, "verify": 0.5}, "verify=0.5"),
           ({"keep": 0.5, "verifier_size": 5}, "verifier_size=5"),
           ({"keep": 0.5, "n_keep": 110}, "n_keep=110"),
           ({"keep": 0.5, "n_keep": 55}, "n_keep=55"),
           ({"keep": 0.5, "n_keep": 5}, "n_keep=5")]
    for kw, match in bad:
        with pytest.raises(ValueError, match=f"retrain_params: .*{match}"):
            nr.retrain_params(cfg, real, **kw)
