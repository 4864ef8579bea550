"""Per-generation diversity, fidelity and coverage, each with a resampling standard error.

Memory is bounded by streaming each generation in row chunks:

* Covariance statistics (total variance, log-determinant, effective rank), the Vendi-type
  score and the Mahalanobis shell masses are computed from *group sufficient statistics*:
  the samples are dealt at random into ``G`` groups and, per group, the count, the sum, the
  scatter matrix and the shell counts are accumulated chunk by chunk. A bootstrap resample
  draws ``G`` groups with replacement and recomputes every statistic from the summed group
  statistics. When a generation has at most ``G`` samples every group is one sample and this
  is the ordinary bootstrap over samples; with more samples it is a bootstrap over random
  blocks of samples (same target, the variance of a smooth function of sample means).
  ``G = min(samples, 200)``, lowered so the group scatter matrices fit in about 128 MB.
* The Vendi-type score is computed in feature space: ``exp`` of the entropy of the
  normalised eigenvalues of ``Phi^T Phi / n`` where ``Phi`` are ``D`` random Fourier features
  of a Gaussian kernel (bandwidth: median pairwise distance of a reference subsample). These
  are the nonzero eigenvalues of ``K / n`` for the approximating kernel, so every sample is
  used and no ``n x n`` matrix is formed.
* k-NN precision / recall (Kynkaanniemi et al. 2019) and coverage (Naeem et al. 2020) use a
  random subsample of each generation and of the reference (``knn_subsample`` rows each);
  their standard errors are binomial, conditional on the other set's subsample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from collapse_jax.core._lazy import lazy

sla = lazy("scipy.linalg")
sst = lazy("scipy.stats")

#: two-sided normal tail masses beyond 2 and 3 sigma: the reference's expected shell masses
SHELL_SIGMAS = (2.0, 3.0)
SHELL_EXPECTED = tuple(float(2 * sst.norm.sf(k)) for k in SHELL_SIGMAS)
_GROUP_BYTES = 128 * 2**20
_CHUNK_BYTES = 32 * 2**20


@dataclass
class MetricConfig:
    resamples: int = 100
    knn_k: int = 5
    knn_subsample: int = 1000
    rff_features: int = 128
    max_groups: int = 200
    kernel_metrics: bool = True


@dataclass
class Reference:
    """What every generation is compared with (computed once)."""

    n: int
    features: int
    mean: np.ndarray
    chol: np.ndarray          # Cholesky factor of the shrunk reference covariance
    shrinkage: float
    shell_r2: np.ndarray      # squared Mahalanobis radii of the 2- and 3-sigma shells
    d_eff: float              # bias-corrected participation ratio of the covariance eigenvalues
    bandwidth: float | None
    rff_w: np.ndarray | None
    rff_b: np.ndarray | None
    knn_points: np.ndarray | None
    knn_radii: np.ndarray | None


def _chunk_rows(p: int) -> int:
    return max(256, _CHUNK_BYTES // (8 * max(p, 1)))


def _mean(x) -> np.ndarray:
    n, p = x.shape
    s = np.zeros(p)
    step = _chunk_rows(p)
    for lo in range(0, n, step):
        s += np.asarray(x[lo:lo + step], dtype=float).sum(axis=0)
    return s / n


def _scatter(x, mean) -> np.ndarray:
    n, p = x.shape
    c = np.zeros((p, p))
    step = _chunk_rows(p)
    for lo in range(0, n, step):
        b = np.asarray(x[lo:lo + step], dtype=float) - mean
        c += b.T @ b
    return c


def ledoit_wolf(scatter: np.ndarray, n: int, fourth: float) -> tuple[np.ndarray, float]:
    """Ledoit-Wolf (2004) shrinkage of the MLE covariance ``scatter / n`` toward ``mu I``
    (``mu`` its mean eigenvalue); ``fourth`` is ``sum_i ||x_i - mean||^4``. Returns the
    shrunk MLE covariance and the intensity in [0, 1]. The trace is unchanged."""
    p = scatter.shape[0]
    s = scatter / n
    mu = np.trace(s) / p
    d2 = float(np.sum((s - mu * np.eye(p)) ** 2))
    b2 = max(0.0, (fourth - n * float(np.sum(s * s))) / n**2)
    delta = 0.0 if d2 <= 0 else min(1.0, b2 / d2)
    return (1 - delta) * s + delta * mu * np.eye(p), float(delta)


def _fourth(x, mean) -> float:
    n, p = x.shape
    step = _chunk_rows(p)
    tot = 0.0
    for lo in range(0, n, step):
        b = np.asarray(x[lo:lo + step], dtype=float) - mean
        tot += float(np.sum(np.sum(b * b, axis=1) ** 2))
    return tot


def participation_ratio(cov_unbiased: np.ndarray, n: int) -> float:
    """``(tr Sigma)^2 / tr(Sigma^2)`` with both traces estimated without bias for Gaussian data
    (Srivastava 2005): the plain sample ratio is biased low when features are many against
    samples. Clipped to ``[1, features]``."""
    p = cov_unbiased.shape[0]
    tr = float(np.trace(cov_unbiased))
    tr2 = float(np.sum(cov_unbiased * cov_unbiased))
    if n > 3:
        tr2_hat = (n - 1) ** 2 / ((n - 2) * (n + 1)) * (tr2 - tr**2 / (n - 1))
        trsq_hat = tr**2 - 2 * tr2_hat / (n - 1)
    else:
        tr2_hat, trsq_hat = tr2, tr**2
    if tr2_hat <= 0 or trsq_hat <= 0:
        tr2_hat, trsq_hat = tr2, tr**2
    return float(np.clip(trsq_hat / tr2_hat, 1.0, p))


def _pairwise_sq(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    return np.maximum(d, 0.0)


def _knn_radii(points: np.ndarray, k: int) -> np.ndarray:
    """Distance of each point to its ``k``-th nearest other point (row blocks of 1024)."""
    out = np.empty(len(points))
    for lo in range(0, len(points), 1024):
        d = _pairwise_sq(points[lo:lo + 1024], points)
        out[lo:lo + 1024] = np.sqrt(np.partition(d, k, axis=1)[:, k])  # column 0 is self
    return out


def _subsample(x, m: int, rng) -> np.ndarray:
    n = x.shape[0]
    if n <= m:
        return np.asarray(x, dtype=float)
    idx = np.sort(rng.choice(n, size=m, replace=False))
    return np.asarray(x[idx], dtype=float)


def build_reference(x, cfg: MetricConfig, rng: np.random.Generator) -> Reference:
    n, p = x.shape
    mean = _mean(x)
    scatter = _scatter(x, mean)
    shrunk, delta = ledoit_wolf(scatter, n, _fourth(x, mean))
    shrunk = shrunk * n / (n - 1)
    tv = np.trace(shrunk)
    if tv <= 0:
        raise _zero_variance("the reference")
    chol = np.linalg.cholesky(shrunk + 1e-12 * tv / p * np.eye(p))
    r2 = sst.chi2.ppf(1 - np.array(SHELL_EXPECTED), p)
    d_eff = participation_ratio(scatter / (n - 1), n)
    bw = w = b = pts = radii = None
    if cfg.kernel_metrics:
        pts = _subsample(x, cfg.knn_subsample, rng)
        d2 = _pairwise_sq(pts, pts)
        iu = np.triu_indices(len(pts), 1)
        bw = float(np.sqrt(np.median(d2[iu])))
        if bw <= 0:
            bw = float(np.sqrt(tv))
        w = rng.normal(size=(p, cfg.rff_features)) / bw
        b = rng.uniform(0, 2 * np.pi, size=cfg.rff_features)
        k = min(cfg.knn_k, len(pts) - 1)
        radii = _knn_radii(pts, k)
    return Reference(n, p, mean, chol, delta, r2, d_eff, bw, w, b, pts, radii)


def _zero_variance(what: str):
    from collapse_jax.core._errors import InvalidInput
    return InvalidInput(f"{what} has zero variance (all samples identical); its log-diversity "
                        "is undefined")


def _groups(n: int, p: int, cfg: MetricConfig) -> int:
    per_group = 8 * (p * p + (cfg.rff_features**2 if cfg.kernel_metrics else 0))
    return int(max(2, min(n, cfg.max_groups, max(16, _GROUP_BYTES // per_group))))


def _entropy_exp(lam: np.ndarray) -> float:
    lam = np.clip(lam, 0.0, None)
    s = lam.sum()
    if s <= 0:
        return float("nan")
    q = lam[lam > 0] / s
    return float(np.exp(-(q * np.log(q)).sum()))


def generation_metrics(x, ref: Reference, cfg: MetricConfig, rng: np.random.Generator) -> dict:
    """Every per-generation metric with its resampling standard error (see the module doc)."""
    n, p = x.shape
    G = _groups(n, p, cfg)
    labels = rng.permutation(n) % G
    mean = _mean(x)
    cnt = np.bincount(labels, minlength=G).astype(float)
    sums = np.zeros((G, p))
    scat = np.zeros((G, p, p))
    shell = np.zeros((G, 2))
    fourth = 0.0
    D = cfg.rff_features if cfg.kernel_metrics else 0
    fscat = np.zeros((G, D, D)) if D else None
    step = _chunk_rows(max(p, D))
    for lo in range(0, n, step):
        raw = np.asarray(x[lo:lo + step], dtype=float)
        blk = raw - mean
        lab = labels[lo:lo + step]
        fourth += float(np.sum(np.sum(blk * blk, axis=1) ** 2))
        z = sla.solve_triangular(ref.chol, (raw - ref.mean).T, lower=True)
        m2 = np.sum(z * z, axis=0)
        beyond = m2[:, None] > ref.shell_r2[None, :]
        feats = (np.sqrt(2.0 / D) * np.cos(raw @ ref.rff_w + ref.rff_b)) if D else None
        for g in np.unique(lab):
            sel = lab == g
            bg = blk[sel]
            sums[g] += bg.sum(axis=0)
            scat[g] += bg.T @ bg
            shell[g] += beyond[sel].sum(axis=0)
            if D:
                fg = feats[sel]
                fscat[g] += fg.T @ fg

    def stats_from(C):
        """Every covariance-type statistic for the rows of group multiplicities ``C``."""
        m = C @ cnt
        mu = (C @ sums) / m[:, None]
        s_mle = (C @ scat.reshape(G, -1)).reshape(-1, p, p) / m[:, None, None]
        s_mle -= mu[:, :, None] * mu[:, None, :]
        lam = np.linalg.eigvalsh(s_mle * (m / (m - 1))[:, None, None])
        tv = lam.sum(axis=1)
        shrunk = (1 - delta) * lam + delta * tv[:, None] / p
        out = {
            "total_variance": tv,
            "log_total_variance": np.log(np.where(tv > 0, tv, np.nan)),
            "log_det": np.sum(np.log(np.clip(shrunk, 1e-300, None)), axis=1),
            "effective_rank": np.array([_entropy_exp(v) for v in lam]),
            "beyond_2sigma": (C @ shell[:, 0]) / m,
            "beyond_3sigma": (C @ shell[:, 1]) / m,
        }
        if D:
            fl = np.linalg.eigvalsh((C @ fscat.reshape(G, -1)).reshape(-1, D, D) / m[:, None, None])
            out["vendi"] = np.array([_entropy_exp(v) for v in fl])
        return out

    full_scatter = scat.sum(axis=0)
    if np.trace(full_scatter) <= 0:
        raise _zero_variance("a generation")
    _, delta = ledoit_wolf(full_scatter, n, fourth)
    point = {k: float(v[0]) for k, v in stats_from(np.ones((1, G))).items()}
    C = rng.multinomial(G, np.full(G, 1.0 / G), size=cfg.resamples).astype(float)
    batch = max(1, int(_CHUNK_BYTES // (8 * (p * p + D * D))))
    parts = [stats_from(C[i:i + batch]) for i in range(0, cfg.resamples, batch)]
    reps = {k: np.concatenate([q[k] for q in parts]) for k in point}
    out = {"samples": int(n), "groups": G, "shrinkage": delta}
    for key, val in point.items():
        boots = reps[key]
        boots = boots[np.isfinite(boots)]
        out[key] = val
        out[key + "_se"] = float(np.std(boots, ddof=1)) if len(boots) > 1 else float("nan")
    out["log_total_variance_se_dof"] = _se_dof(np.trace(scat, axis1=1, axis2=2), cnt,
                                               cfg.resamples)
    if cfg.kernel_metrics:
        out.update(_knn_metrics(x, ref, cfg, rng))
    return out


def _se_dof(group_trace: np.ndarray, cnt: np.ndarray, resamples: int) -> float:
    """Degrees of freedom of the bootstrap SE of ``log Tr S`` (Satterthwaite): the SE's
    relative variance is the resampling part ``1 / (2 (R - 1))`` plus the ideal bootstrap's
    own, ``(kappa - 1) / (4 G)``, ``kappa`` the kurtosis of the groups' influences on the
    trace ``a_g = tr(scatter_g) - n_g Tr S_mle`` (the sample variance of ``G`` values has
    relative variance ``(kappa - 1) / G``, an SE a quarter of it)."""
    G = len(cnt)
    a = group_trace - cnt * (group_trace.sum() / cnt.sum())
    a = a - a.mean()
    m2 = float(np.mean(a * a))
    kappa = float(np.mean(a**4)) / m2**2 if m2 > 0 else 3.0
    rel = 1.0 / (2.0 * (resamples - 1)) + max(kappa - 1.0, 0.0) / (4.0 * G)
    return float(1.0 / (2.0 * rel))


def _knn_metrics(x, ref: Reference, cfg: MetricConfig, rng) -> dict:
    pts = _subsample(x, cfg.knn_subsample, rng)
    k = min(cfg.knn_k, len(pts) - 1)
    radii = _knn_radii(pts, k)
    d = np.sqrt(_pairwise_sq(pts, ref.knn_points))          # (gen, ref)
    precision = float(np.mean((d <= ref.knn_radii[None, :]).any(axis=1)))
    recall = float(np.mean((d <= radii[:, None]).any(axis=0)))
    coverage = float(np.mean(d.min(axis=0) <= ref.knn_radii))

    def se(q, m):
        return float(math.sqrt(max(q * (1 - q), 0.0) / m))

    mg, mr = len(pts), len(ref.knn_points)
    return {"precision": precision, "precision_se": se(precision, mg),
            "recall": recall, "recall_se": se(recall, mr),
            "coverage": coverage, "coverage_se": se(coverage, mr),
            "knn_subsample": int(mg), "knn_k": int(k)}
