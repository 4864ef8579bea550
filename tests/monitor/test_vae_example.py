"""The monitor on the neural loop, as in notebooks/08_monitor.py, at a tiny size.

A few optimiser steps cannot train a generator, so no law is asserted: the test pins the
extraction (every image each round's model is measured on, ``grid = n_eval / classes``, mapped
to the Frechet classifier's features, and class-centred) and that the monitor accepts those
arrays and returns its documented result.
"""

import jax
import numpy as np
import pytest

from collapse_jax.core.nets import data as nd
from collapse_jax.engine import batch
from collapse_jax.monitor import analyse
from collapse_jax.vae import kernel as nr

ROUNDS, N_EVAL = 3, 100
FAST = {"resamples": 20, "rff_features": 16, "knn_subsample": 100, "knn_k": 3}
KEYS = {"law", "exponent", "detected_at", "collapse_detected", "generations", "model_selection",
        "detection", "theory", "effective_dimension", "reference", "configuration", "versions"}


def class_centred(x, y):
    x = np.array(x, np.float64)
    for c in np.unique(y):
        x[y == c] -= x[y == c].mean(0)
    return x


@pytest.fixture(scope="module")
def loop():
    split = nd.stratified_split(nd.load_digits(), seed=0)
    feature_net = nr.feature_network(jax.random.key(1), split, steps=50)
    cfg = nr.retrain_config(rounds=ROUNDS, steps=20, verifier_steps=20, n_real=100,
                            n_keep=100, n_eval=N_EVAL, keep_min=0.1, verifier_max=200,
                            grid=N_EVAL // nd.CLASSES)
    real = nr.real_set(split, feature_net, cfg)
    params = nr.retrain_params(cfg, real, verify=[0, 1], verifier_size=[200, 200],
                               keep=[0.1, 0.1], shared=True)
    final, metrics = batch.run_sweep_shared(nr.retrain_kernel_shared, jax.random.key(0),
                                            params, real, cfg, seeds=1)
    images = np.asarray(final.samples)[:, 0, 0]  # (setting, round, image, pixels)
    to_features = jax.vmap(feature_net.features)
    feats = np.asarray(to_features(images.reshape(-1, cfg.dim)), np.float64)
    feats = feats.reshape(*images.shape[:3], -1)
    ref = np.asarray(to_features(split.test.x), np.float64)
    labels = np.repeat(np.arange(nd.CLASSES), N_EVAL // nd.CLASSES)
    return split, images, feats, ref, labels, np.asarray(metrics["pixel_var"])[:, 0, 0]


def test_the_samples_are_the_measured_images(loop):
    _, images, feats, ref, labels, pixel_var = loop
    assert images.shape == (2, ROUNDS + 1, N_EVAL, 64)
    assert feats.shape[:3] == images.shape[:3] and feats.shape[3] == ref.shape[1]
    assert np.all(np.isfinite(images)) and np.all(np.isfinite(feats))
    # Round 0 (the model trained on real images) is shared by both settings.
    np.testing.assert_allclose(images[0, 0], images[1, 0], rtol=1e-5, atol=1e-6)
    # Class-centred trace / pixels = the kernel's within-class pixel variance, up to n/(n-1).
    for i in range(2):
        for k in range(ROUNDS + 1):
            c = class_centred(images[i, k], labels)
            trace = np.trace(np.cov(c, rowvar=False))
            assert trace / 64 == pytest.approx(pixel_var[i, k] * N_EVAL / (N_EVAL - 1),
                                               rel=1e-3)


@pytest.mark.parametrize("centred", [False, True])
@pytest.mark.parametrize("setting", [0, 1])
def test_the_monitor_reads_the_loop(loop, setting, centred):
    split, _, feats, ref, labels, _ = loop
    gens = list(feats[setting])
    if centred:
        gens = [class_centred(g, labels) for g in gens]
        ref = class_centred(ref, split.test.y)
    res = analyse(gens, reference=ref, **FAST)
    assert KEYS <= set(res)
    assert res["law"] in {"bounded", "power", "geometric"}
    if res["law"] == "bounded":
        assert res["exponent"] is None
    else:
        assert res["exponent"]["kind"] == res["law"]
        assert set(res["exponent"]) == {"kind", "estimate", "ci", "level"}
    assert res["detected_at"] is None or 1 <= res["detected_at"] <= ROUNDS
    assert res["collapse_detected"] == (res["detected_at"] is not None)
    assert [g["generation"] for g in res["generations"]] == list(range(ROUNDS + 1))
    for g in res["generations"]:
        assert g["samples"] == N_EVAL and np.isfinite(g["log_total_variance_se"])
        assert {"precision", "recall", "coverage"} <= set(g)
    assert res["reference"]["samples"] == split.test.x.shape[0]
    assert res["reference"]["features"] == feats.shape[3]
    assert res["theory"] is None
