"""End-to-end: ``python -m proofs_checks.vae_verification`` at tiny sizes, and bad input.

The tiny run only exercises the whole pipeline and the report contract (its few optimiser
steps cannot train a generator, so its verdicts are not asserted); the verdicts of ``--quick``
and of the default run are recorded in docs/vae_verification.md.
"""

import argparse
import json
import subprocess
import sys

import numpy as np
import pytest

from collapse_jax.vae import check

# Tiny sizes (24 seeds: the fewest at which the CIs of the 10 claims are valid); accumulate,
# so that one compiled sweep covers both paradigms ("none" replaces); a kept set growing x 3
# over the rounds; a three-point ratio sweep of small kept sets.
TINY = ["--quick", "--seeds", "24", "--rounds", "4", "--steps", "30", "--n-real", "100",
        "--n-keep", "100", "--n-eval", "200", "--strong-size", "200", "--bootstrap", "200",
        "--paradigm", "accumulate", "--keep-growth", "3", "--ratios", "0.5,1,2",
        "--chunk-size", "6"]
# Four chunks of 6 seeds through one compiled program: the run's peak resident memory is
# 1.36 GB instead of 1.88 GB in one chunk, in the same time (2026-12-04), and the default
# suite covers the check's chunked path (the slow suite's --quick run is one chunk).


def test_tiny_run_writes_the_contract(tmp_path, capsys):
    out, fig = tmp_path / "r.json", tmp_path / "f.png"
    code = check.main(TINY + ["--json", str(out), "--plot", str(fig)])
    rep = json.loads(out.read_text())
    assert code == (0 if all(c["passed"] for c in rep["claims"]) else 1)
    for k in ("check", "version", "config", "device", "precision", "claims", "timing", "curves"):
        assert k in rep
    assert {c["id"] for c in rep["claims"]} == {"1", "2a", "2b", "2c", "3a", "3b", "4a", "4b",
                                                "5a", "5b"}
    sweep = rep["findings"]["ratio_sweep"]
    assert sweep["ratios"] == [0.5, 1.0, 2.0] and sweep["n_keep"] == [50, 100, 200]
    # Common random numbers: the sweep's points share round 0, exactly (one program, run
    # point after point with the same seeds' keys).
    assert max(sweep["fd_round0_mean"]) == min(sweep["fd_round0_mean"])
    # The unverified control at the largest ratio, on the same seeds: finite, with its CIs,
    # and said in 5b's note.
    ctl = sweep["unverified_control"]
    assert ctl["ratio"] == 2.0
    for k in ("gain_unverified", "verifier_share"):
        lo, hi = ctl[f"{k}_ci"]
        assert np.isfinite(ctl[k]) and lo <= ctl[k] <= hi, ctl
    assert "unverified" in next(c["note"] for c in rep["claims"] if c["id"] == "5b")
    for c in rep["claims"]:
        assert c["ci"][0] is None or c["ci"][0] <= c["ci"][1]
    assert set(rep["curves"]) == {"none", "strong", "weak", "none+accumulate", "strong@keep=0.4"}
    assert rep["config"]["downsample"] is None and rep["config"]["arch"] == "mlp"
    # the last round keeps 30 per class (100 kept x 3 growth), of 300 candidates: one batch
    assert rep["config"]["candidate_batch"] == rep["config"]["candidates_per_class"] == 300
    assert rep["config"]["settings"][3] == {"name": "none+accumulate", "verify": False,
                                            "verifier_size": 200, "keep": 0.1,
                                            "accumulate": True}
    # The kept set grows x 3 over rounds 1..4 (10, 17, 23, 30 per class): replace trains on
    # each round's, accumulate on the real images plus everything kept so far.
    assert rep["curves"]["none"]["train_size"]["mean"] == [100, 100, 170, 230, 300]
    assert rep["curves"]["strong"]["train_size"]["mean"] == [100, 200, 370, 600, 900]
    fd = rep["curves"]["strong"]["fd_real"]
    assert len(fd["mean"]) == len(fd["se"]) == 5
    # Common random numbers: every setting shares round 0.
    assert rep["curves"]["none"]["fd_real"]["mean"][0] == pytest.approx(fd["mean"][0], rel=1e-6)
    assert rep["timing"]["compile_s"] > 0
    # Fixed steps: the passes over the data are steps x batch / the images trained on.
    for name in ("none", "strong"):
        np.testing.assert_allclose(
            rep["curves"][name]["train_epochs"]["mean"],
            30 * 64 / np.asarray(rep["curves"][name]["train_size"]["mean"]), rtol=1e-6)
    # the discriminator: 8 x 30 steps over 200 real and 200 fake images
    assert rep["findings"]["training"]["verifier_passes"]["strong"] == pytest.approx(38.4)
    # Every metric of every seed and round is finite (non-finite values would be counted here
    # and named in every claim's note).
    assert rep["findings"]["non_finite"] == {}
    # 4a's note carries the sharpness diagnostic, from curves that every setting records.
    assert {"binary_var", "sharpness"} <= set(rep["curves"]["none"])
    note4a = next(c["note"] for c in rep["claims"] if c["id"] == "4a")
    assert "diagnostic, not a claim: sharpness" in note4a and "thresholded at 1/2" in note4a
    assert fig.stat().st_size > 10_000
    assert "proofs_checks.vae_verification" in capsys.readouterr().out


@pytest.mark.reuses_programs
def test_negative_control_without_a_verifier(tmp_path, capsys):
    """``--verifier none`` makes claims 2 and 4 read the unverified setting: its first round
    is worse than round 0 (a generator retrained on its own unfiltered samples), so the
    near-term gain of claim 2a must fail, with the whole CI below zero (at key 0 with 23 seeds
    the gain is -0.31, CI [-0.34, -0.27]). All settings run in one sweep whatever
    ``--verifier`` is, so the test above pins this run's metrics as finite, and the compiled
    program is reused. ``TINY`` only exercises the verdict path: 30 optimiser steps cannot
    train a generator, so the strong verifier fails 2a at this size too (-0.13); the verdicts
    at sizes that train are recorded in docs/vae_verification.md."""
    out = tmp_path / "r.json"
    code = check.main(TINY + ["--verifier", "none", "--json", str(out)])
    printed = capsys.readouterr().out
    assert code == 1, printed
    rep = json.loads(out.read_text())
    assert rep["config"]["verifier"] == "none"
    assert rep["findings"]["ratio_sweep"]["unverified_control"] is None  # nothing to compare
    claims = {c["id"]: c for c in rep["claims"]}
    c = claims["2a"]
    assert not c["passed"] and c["decided"], c
    assert c["reason"] == "refuted: the CI lies wholly on the other side of the bound", c
    assert c["ci"][1] < 0 and c["measured"] < -0.1, c
    assert "FAIL" in printed


@pytest.mark.parametrize(("args", "flag"), [
    (["--keep", "0"], "--keep"), (["--keep", "1.5"], "--keep"), (["--rounds", "2"], "--rounds"),
    (["--seeds", "1"], "--seeds"), (["--n-keep", "55"], "--n-keep"),
    (["--weak-size", "5000"], "--weak-size"), (["--latent", "0"], "--latent"),
    (["--loose-keep", "0.05"], "--loose-keep"), (["--data", "/nonexistent/mnist.npz"], "--data"),
    (["--ratios", "1,2"], "--ratios"), (["--ratios", "0.33,1,2"], "--ratios"),
    (["--ratios", "a,1,2"], "--ratios"), (["--ratios=-1,1,2"], "--ratios"),
    (["--ratios", "nan,1,2"], "--ratios"), (["--verifier-steps", "5"], "--verifier-steps"),
    (["--keep-growth", "0.5"], "--keep-growth"), (["--keep-growth", "inf"], "--keep-growth"),
    (["--keep-growth", "1e9"], "--keep-growth"),
    (["--downsample", "2"], "--downsample"),  # only with --data: the digits are not pooled
    (["--data", "m.npz", "--downsample", "3"], "--downsample"),
    (["--data", "m.npz", "--arch", "conv"], "--arch"),  # 14x14 does not halve twice
    (["--data", "m.npz", "--arch", "conv", "--downsample", "2"], "--arch"),
    (["--discriminator", "yi", "--verifier-kind", "classifier"], "--discriminator"),
    (["--epochs", "-1"], "--epochs"), (["--verifier-epochs", "20000"], "--verifier-epochs"),
    (["--epochs", "10", "--patience", "0"], "--patience"),
])
def test_bad_input_exits_2_with_one_line(args, flag, capsys):
    assert check.main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and flag in err[0]


def test_malformed_data_file_exits_2(tmp_path, capsys):
    bad = tmp_path / "mnist.npz"
    bad.write_bytes(b"not a zip archive")
    assert check.main(["--data", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--data" in err[0] and "npz" in err[0]


def test_cli_bad_choice_is_one_line_without_traceback():
    r = subprocess.run([sys.executable, "-m", "proofs_checks.vae_verification", "--verifier",
                        "oracle"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    lines = [x for x in r.stderr.strip().splitlines() if x]
    assert len(lines) == 1 and "--verifier" in lines[0] and "Traceback" not in r.stderr


def test_verifier_kinds_are_the_kernels():
    from collapse_jax.core.nets import cvae
    from collapse_jax.vae import kernel as nr

    assert set(check.VERIFIER_KINDS) == set(nr.VERIFIER_KINDS)
    assert set(check.ARCHS) == set(cvae.ARCHS)
    assert set(check.DISCRIMINATORS) == set(nr.DISCRIMINATORS)


def test_noise_needs_the_gaussian_likelihood(capsys):
    assert check.main(["--quick", "--noise", "0.2"]) == 2
    assert "--noise=0.2 is invalid" in capsys.readouterr().err


def test_differences_from_the_authors_are_listed():
    """What separates a run from Yi et al.'s pipeline, by the run's own flags."""
    from collapse_jax.core.nets import data as nd

    a = check.build_parser().parse_args(["--verifier-kind", "classifier", "--likelihood",
                                         "gaussian", "--n-keep", "2000"])
    a.rounds, a.steps = 10, 1000
    diffs = check.differences(a, nd.load_digits())
    text = " ".join(diffs)
    assert "8x8" in text and "2000 (the same every round; 10 x the real set)" in text
    a.keep_growth = 4.0
    assert "2000 growing linearly x 4 (10 -> 40 x the real set)" in " ".join(
        check.differences(a, nd.load_digits()))
    assert "digit classifier" in text and "Gaussian decoder" in text
    a = check.build_parser().parse_args([])
    a.rounds, a.steps, a.n_keep, a.verifier_steps = 10, 1000, 500, 8000
    text = " ".join(check.differences(a, nd.load_digits()))
    assert "discriminator" in text and "Gaussian" not in text
    assert "thresholded at 1/2, as theirs" in text and "8000 steps" in text
    assert "MLP CVAE" in text and "against a convolutional CVAE" in text
    a.arch = "conv"
    text = " ".join(check.differences(a, nd.load_digits()))
    assert "convolutional CVAE (theirs)" in text and "MLP CVAE" not in text
    assert "of 128 and 32 units (theirs: 512-256-128-64)" in text
    a.discriminator = "yi"
    text = " ".join(check.differences(a, nd.load_digits()))
    assert "their discriminator network (512-256-128-64)" in text and "32 units" not in text
    # Training by epochs: their rule and sizes leave only the architecture's line.
    a.epochs, a.verifier_epochs, a.batch, a.lr, a.latent = 200, 80, 128, 1e-3, 20
    text = " ".join(check.differences(a, nd.load_digits()))
    assert "generator:" not in text and "at most 80 epochs with patience 5" in text
    a.arch, a.patience = "mlp", 3
    text = " ".join(check.differences(a, nd.load_digits()))
    assert "MLP CVAE, latent 20, at most 200 epochs with patience 3 of batch 128" in text


def test_training_note_says_how_long_each_network_trained():
    tr = {"generator_passes": {"none": [115.2, 78.9, 50.0], "strong": [115.2, 98.2, 70.4]},
          "verifier_passes": {"strong": 41.0},
          "rule": "at most 200 epochs with patience 5 of batch 128"}
    assert check.training_note(tr, "strong") == (
        "Training (at most 200 epochs with patience 5 of batch 128), passes over the data (seed "
        "mean, round 0 -> 1 -> last): unverified 115 -> 78.9 -> 50, strong 115 -> 98.2 -> 70.4; "
        "the strong verifier 41.")


def test_yi_mnist_preset_fixes_the_authors_sizes_and_needs_data(capsys):
    a = check.build_parser().parse_args(["--preset", "yi-mnist", "--data", "m.npz"])
    check._apply_preset(a)
    assert (a.latent, a.n_real, a.n_keep, a.generations, a.keep) == (20, 500, 30000, 20, 0.1)
    assert check.main(["--preset", "yi-mnist"]) == 2
    assert "--data=None is invalid" in capsys.readouterr().err
    assert check.main(["--preset", "yi-mnist", "--data", "m.npz", "--n-keep", "500"]) == 2
    assert "--n-keep=500 is invalid: allowed not given" in capsys.readouterr().err


def test_yi_mnist_preset_on_a_small_file_says_what_to_do(tmp_path, capsys):
    """A file whose real pool is below the preset's verifier set (the 10000-image MNIST test
    file keeps 8000) is refused before anything trains, naming the way out; the line keeps
    the form benchmarks/accelerator.py's retry reads."""
    rng = np.random.default_rng(0)
    path = tmp_path / "small.npz"
    np.savez(path, x=rng.integers(0, 256, (1000, 28, 28), dtype=np.uint8),
             y=np.repeat(np.arange(10), 100))
    assert check.main(["--preset", "yi-mnist", "--data", str(path)]) == 2
    err = capsys.readouterr().err
    assert "--strong-size=8400 is invalid: allowed at most the real pool size 700" in err
    assert "--preset yi-mnist sets the authors' 8400" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(("slope", "verdict_5a", "verdict_5b"), [
    (0.1, True, True),     # the gain rises 0.1 per doubling and is +0.5 at ratio 32
    (-0.1, False, False),  # negative control: it falls, ending at -0.5
    (0.0, False, False),   # negative control: flat at 0 (both refuted, not undecided)
])
def test_gain_claims_follow_a_known_trend(slope, verdict_5a, verdict_5b):
    """Claims 5a, 5b on synthetic per-seed distances of known trend: round-1 distance
    ``FD_0 (1 - slope log2 r) + noise``; a falling or flat gain must fail, decided."""
    rng = np.random.default_rng(7)
    ratios = np.array([0.5, 2.0, 8.0, 32.0])
    fd0 = rng.normal(6.0, 0.5, size=(24, 1))
    noise_sd = 0.1
    fd1 = (fd0 * (1.0 - slope * np.log2(ratios))[None, :]
           + rng.normal(0.0, noise_sd, (24, 4)))
    gain_fd = np.stack([np.broadcast_to(fd0, (24, 4)), fd1], axis=2)
    boot = dict(rng=np.random.default_rng(0), resamples=400, level=1 - 0.05 / 10)
    (a5, b5), g_mean, control = check.gain_claims(gain_fd, ratios, "strong", 200, boot)
    assert control is None  # no unverified arm given
    # The seed-mean gain misses the trend by the mean noise over E FD_0: its SE is
    # noise_sd / sqrt(seeds) / E FD_0; allow 4 of them.
    se = noise_sd / np.sqrt(24) / fd0.mean()
    np.testing.assert_allclose(g_mean, slope * np.log2(ratios), rtol=0, atol=4 * se)
    assert (a5.passed, b5.passed) == (verdict_5a, verdict_5b), (a5, b5)
    assert a5.decided and b5.decided


@pytest.mark.parametrize("unverified_gain", [0.3, 0.0])
def test_the_unverified_control_tells_the_verifiers_share(unverified_gain):
    """The unverified arm at the largest ratio: with per-seed distances of known gains
    (verified +0.3, unverified ``unverified_gain``), the control's gain and the verifier's
    share (verified minus unverified, paired by seed) land within 4 standard errors of the
    truth and their CIs cover it; where the unverified arm gains as much, the share's CI
    holds 0 (the gain is not the verifier's), where it gains nothing, the share's CI excludes
    0. The claims 5a, 5b are those of the sweep alone."""
    rng = np.random.default_rng(11)
    ratios = np.array([0.5, 2.0, 8.0, 32.0])
    seeds, noise_sd = 24, 0.1
    fd0 = rng.normal(6.0, 0.5, size=(seeds, 1))
    fd1 = fd0 * (1.2 - 0.1 * np.log2(ratios))[None, :] + rng.normal(0, noise_sd, (seeds, 4))
    gain_fd = np.stack([np.broadcast_to(fd0, (seeds, 4)), fd1], axis=2)
    ctl = np.stack([fd0[:, 0], fd0[:, 0] * (1.0 - unverified_gain)
                    + rng.normal(0, noise_sd, seeds)], axis=1)

    def boot():
        return dict(rng=np.random.default_rng(0), resamples=400, level=1 - 0.05 / 10)

    claims, g_mean, control = check.gain_claims(gain_fd, ratios, "strong", 200, boot(), ctl)
    alone, g_alone, _ = check.gain_claims(gain_fd, ratios, "strong", 200, boot())
    assert [(c.measured, c.ci) for c in claims] == [(c.measured, c.ci) for c in alone]
    np.testing.assert_array_equal(g_mean, g_alone)
    se = noise_sd * np.sqrt(2) / np.sqrt(seeds) / fd0.mean()
    share = 0.3 - unverified_gain
    assert control["ratio"] == 32.0
    assert abs(control["gain_unverified"] - unverified_gain) <= 4 * se
    assert abs(control["verifier_share"] - share) <= 4 * se
    lo, hi = control["verifier_share_ci"]
    assert lo <= share <= hi and (lo <= 0.0 <= hi) == (share == 0.0), control
    assert "unverified" in claims[1].note and "verifier's share" in claims[1].note


def _world(good: bool, seeds: int = 24, T: int = 8):
    """Per-seed curves of a loop that behaves as claims 1-4 say (``good``) or the reverse,
    with 1% multiplicative noise: (res, fin) as :func:`check.round_claims` takes them."""
    rng = np.random.default_rng(3)
    k = np.arange(T + 1, dtype=float)

    def curve(shape):
        return 6.0 * shape[None, :] * (1.0 + 0.01 * rng.standard_normal((seeds, T + 1)))

    decay, fast = np.exp(-0.5 * k), np.exp(-3.0 * k)
    if good:
        fd = {"none": 1.0 + 0.3 * k, "strong": 0.7 + 0.3 * decay, "weak": 0.9 + 0.1 * fast}
        pref = 0.3 + 0.7 * decay  # the distance to what the verifier prefers falls further
        strict, loose = np.exp(-0.3 * k), np.exp(-0.1 * k)
    else:  # unverified improves, verified degrades steadily, the weak verifier does better
        fd = {"none": 1.0 - 0.05 * k, "strong": 1.0 + 0.3 * k, "weak": 1.0 + 0.1 * k}
        pref = 1.0 + 0.6 * k
        strict, loose = np.exp(-0.1 * k), np.exp(-0.3 * k)
    fd["strong@keep=0.4"] = fd["strong"]
    res = {}
    for name, shape in fd.items():
        res[name] = {"fd_real": curve(shape), "fd_pref": curve(pref),
                     "pixel_var": curve(loose if "@" in name else strict),
                     "coverage": curve(loose if "@" in name else strict),
                     "accept": np.ones((seeds, T + 1))}
        # 4a's diagnostics (no draws: the curves above keep their random stream)
        res[name].update(binary_var=res[name]["pixel_var"], sharpness=np.ones((seeds, T + 1)))
    fin = {name: {"fd_pref_real": np.full(seeds, 2.0), "verifier_acc": np.full(seeds, 0.8),
                  "real_accept": np.full(seeds, 0.9)} for name in fd}
    return res, fin


@pytest.mark.parametrize("good", [True, False])
def test_round_claims_on_curves_of_known_shape(good):
    """Claims 1-4 pass on curves shaped as they claim, and every one of them fails, decided,
    on the reversed curves (negative controls: unverified improvement, no near-term gain,
    no plateau, the distance to the preferred set growing faster, the weak verifier lower
    and later, the looser keep losing diversity faster)."""
    a = check.build_parser().parse_args(["--quick", "--rounds", "8"])
    a.rounds, a.loose_keep = 8, 0.4
    res, fin = _world(good)
    boot = dict(rng=np.random.default_rng(0), resamples=400, level=1 - 0.05 / 10)
    claims = {c.id: c for c in check.round_claims(a, res, fin, 1.0, boot)}
    assert list(claims) == ["1", "2a", "2b", "2c", "3a", "3b", "4a", "4b"]
    for c in claims.values():
        assert c.passed is good and c.decided, c


def test_an_undecided_claim_says_how_many_seeds_would_decide_it():
    """Every claim records the seeds its CI came from; one whose CI holds both no effect and
    the smallest effect (here 4b: the loose and the strict keep lose coverage alike, with 20%
    noise between seeds) says how many seeds would decide it, in its reason and its JSON."""
    a = check.build_parser().parse_args(["--quick", "--rounds", "8"])
    a.rounds, a.loose_keep = 8, 0.4
    res, fin = _world(True)
    rng = np.random.default_rng(5)
    for name in ("strong", "strong@keep=0.4"):
        res[name]["coverage"] = 6.0 * (1.0 + 0.2 * rng.standard_normal((24, 9)))
    boot = dict(rng=np.random.default_rng(0), resamples=400, level=1 - 0.05 / 10)
    claims = {c.id: c for c in check.round_claims(a, res, fin, 1.0, boot)}
    assert all(c.to_json()["seeds"] == 24 for c in claims.values())
    c = claims["4b"]
    assert not c.decided and c.seeds_to_decide > 24, c
    assert f"about {c.seeds_to_decide} seeds would decide it" in c.reason
    assert claims["1"].decided and claims["1"].seeds_to_decide is None


#: The quick run's verdicts that held on one CPU device and sharded over two, and on another
#: CPU with the ratio sweep in one program or point by point (the same key with other float32
#: rounding, which training amplifies: docs/vae_verification.md): claim -> passed. 3a, 3b, 4a
#: and 5a changed or stayed undecided, so they are not pinned.
ROBUST_QUICK = {"1": True, "2a": False, "2b": False, "2c": True, "4b": True, "5b": False}


@pytest.mark.slow  # the documented --quick run: about 5 minutes on 2 cores
def test_quick_run_gives_the_documented_robust_verdicts(tmp_path):
    """``--quick`` as a user runs it: unverified retraining degrades (1), the verified loop
    has no first-round gain (2a refuted) and no plateau (2b refuted) while moving toward what
    the verifier prefers (2c), the strict keep loses coverage faster (4b), and the most
    synthetic data still gives no first-round gain (5b refuted); every undecided claim says
    how many seeds would decide it."""
    out = tmp_path / "q.json"
    code = check.main(["--quick", "--json", str(out)])
    rep = json.loads(out.read_text())
    claims = {c["id"]: c for c in rep["claims"]}
    assert code == 1
    for cid, passed in ROBUST_QUICK.items():
        c = claims[cid]
        assert c["decided"] and c["passed"] is passed, c
    for c in claims.values():
        assert c["seeds"] == 24 and (c["seeds_to_decide"] is None) == c["decided"], c


@pytest.mark.parametrize("verifier", ["strong", "none"])
def test_ratio_sweep_runs_one_point_per_program(monkeypatch, verifier):
    """The ratio sweep's points (each holding the largest point's candidate buffers) run one
    per program, all with the run's key (common random numbers), and come back in the order
    of the ratios, the unverified control last: the bookkeeping that bounds --quick's memory
    (3.9 GB resident instead of 14.8 GB with all points in one program). Stubbed kernel: each
    point's Frechet distances are (n_keep + seed, n_keep + seed + verify / 2)."""
    calls = []

    class FakeKernels:
        @staticmethod
        def retrain_params(cfg, real, *, verify, verifier_size, keep, accumulate, n_keep,
                           shared):
            return {"verify": np.asarray(verify), "n_keep": np.asarray(n_keep, float)}

    def fake_stream(a, nr, key, params, cfg, real, reduce):
        calls.append((key, params["n_keep"].tolist()))
        seeds = np.arange(a.seeds, dtype=float)
        r0 = params["n_keep"][:, None] + seeds[None, :]  # (points, seeds)
        r1 = r0 + params["verify"][:, None] / 2
        fd = np.stack([r0, r1], -1)[:, :, None, :]  # (points, seeds, 1, 2)
        reduce((None, {"fd_real": fd}), 0)
        return check.batch.Timing(1.0, 2.0)

    monkeypatch.setattr(check, "_stream", fake_stream)
    a = argparse.Namespace(ratio_list=[0.5, 2.0, 8.0], n_real=100, verifier=verifier,
                           weak_size=20, strong_size=200, keep=0.1, seeds=3)
    fd, control, tm = check._ratio_sweep(a, FakeKernels, lambda *args: None, None, "KEY")
    # four programs of one point each (three ratios and the control), all with the same key
    assert calls == [("KEY", [50.0]), ("KEY", [200.0]), ("KEY", [800.0]), ("KEY", [800.0])]
    assert tm == check.batch.Timing(4.0, 8.0)
    seeds = np.arange(3.0)[:, None]
    assert fd.shape == (3, 3, 2)
    np.testing.assert_array_equal(fd[:, :, 0], np.array([50.0, 200.0, 800.0]) + seeds)
    half = 0.5 if verifier == "strong" else 0.0  # verified points, unless --verifier none
    np.testing.assert_array_equal(fd[:, :, 1], fd[:, :, 0] + half)
    if verifier == "none":
        assert control is None
    else:  # the control: the largest kept count, unverified
        np.testing.assert_array_equal(control, np.c_[800.0 + seeds[:, 0], 800.0 + seeds[:, 0]])


def test_candidate_batches_only_where_a_round_would_not_fit():
    """A round's candidates are generated all at once up to CANDIDATE_BYTES per run: the
    preset's 300000 candidates of 14x14 images (235 MB) and the digits' sizes keep the
    one-batch program (and its numbers); the authors' growth to 1M kept images (10M
    candidates) and their 28x28 images at the preset's sizes are batched."""
    assert check.candidate_batch(10, 30000, 196) is None
    assert check.candidate_batch(10, 500, 64) is None
    per_class = 10 * 196 * 4
    assert check.candidate_batch(10, 1_000_000, 196) == check.CANDIDATE_BYTES // per_class
    assert check.candidate_batch(10, 30000, 784) == check.CANDIDATE_BYTES // (10 * 784 * 4)


@pytest.mark.slow  # compiles the whole check again (about 2.5 minutes on 2 cores)
def test_tiny_run_trains_by_epochs_with_the_authors_early_stopping(tmp_path):
    """``--epochs 200 --verifier-epochs 80 --patience 5`` at batch 128 and lr 1e-3: Yi et al.'s
    training rule. Every network stops by patience before its cap (measured at these sizes:
    the round-0 generator after about 115 epochs, later rounds after 50-100), the report
    says how long each trained, and the generator's line leaves the differences."""
    out = tmp_path / "e.json"
    code = check.main(TINY + ["--epochs", "200", "--verifier-epochs", "80", "--batch", "128",
                              "--lr", "1e-3", "--latent", "20", "--json", str(out)])
    rep = json.loads(out.read_text())
    assert code in (0, 1)
    tr = rep["findings"]["training"]
    assert tr["rule"] == "at most 200 epochs with patience 5 of batch 128"
    for name, passes in tr["generator_passes"].items():
        assert all(5 < p < 200 for p in passes), (name, passes)  # stopped by patience
    assert all(5 < p <= 80 for p in tr["verifier_passes"].values()), tr
    assert "at most 80 epochs with patience 5" in rep["ci_note"]
    assert not any(d.startswith("generator: MLP CVAE, latent 20,")
                   for d in rep["config"]["differences_from_the_authors"])
    for c in rep["claims"]:
        assert c["measured"] is None or np.isfinite(c["measured"]), c
