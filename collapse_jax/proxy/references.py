"""Central selection rules: what the model owner does with what the silos publish.

Every function here receives the silos only as a :class:`collapse_jax.proxy.silo_data.Channel`
(or a replay of one), so it cannot touch raw silo data (theory.md 1.5, Qiao et al. 2026):

* :func:`keep_lowest`: top-alpha by a published score vector (``local`` and the local
  baselines ``kmeans``, ``center-match``, ``cov-match``).
* :func:`scheme_interpolation` (Scheme I): every silo publishes the point ``tau`` of the
  geodesic from the candidates toward its data; the centre scores the candidates against
  each proxy cloud with the calibrated OT score, min-max normalises per party, clamps the
  utility ``1 - S~ >= 0`` and keeps ``n`` by the greedy rule for the monotone submodular
  objective ``sum_k log(1 + sum_{i in I} u_k(i))`` (a ``1 - 1/e`` approximation).
* :func:`scheme_barycenter` (Scheme II): the centre broadcasts a support, every silo returns
  its Monge image of it (the geodesic at ``tau = 1``) and its transport cost, the centre
  averages the images with weights ``lambda_k ∝ n_k``; after ``rounds`` rounds the
  candidates are scored once against the barycenter. The Frechet variance
  ``sum_k lambda_k OT_eps(X_r, Q_k)`` of every round is returned (Theorem 5: non-increasing).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from collapse_jax.core import mixture, transport
from collapse_jax.core._types import Array, Points


def keep_lowest(scores: Array, n: int) -> Array:
    """Indices of the ``n`` lowest scores."""
    _, idx = jax.lax.top_k(-scores, n)
    return idx


def kmeans_pool_select(candidates: Points, n: int, iterations: int = 20) -> Array:
    """Qiao et al.'s K-means baseline (``selection/image_selection.py``, after Lin et al.
    2023), reference-free: Lloyd's k-means of the candidate pool itself into ``n`` clusters,
    then for every cluster in turn its unused member closest to the centroid (an empty
    cluster takes the closest unused candidate overall). Theirs starts scikit-learn's
    k-means++ at ``random_state=0``; here the farthest-point start of
    :func:`collapse_jax.core.mixture.kmeans`. Returns ``n`` distinct indices."""
    w = jnp.ones(candidates.shape[0], candidates.dtype)
    centres = mixture.kmeans(candidates, w, n, iterations)
    d2 = jnp.sum((candidates[:, None, :] - centres[None]) ** 2, axis=-1)  # (N, n)
    label = jnp.argmin(d2, axis=1)

    def pick(used, j):
        col = jnp.where(used, jnp.inf, d2[:, j])
        member = jnp.where(label == j, col, jnp.inf)
        best = jnp.where(jnp.isfinite(jnp.min(member)), jnp.argmin(member), jnp.argmin(col))
        return used.at[best].set(True), best

    _, idx = jax.lax.scan(pick, jnp.zeros(candidates.shape[0], bool), jnp.arange(n))
    return idx


def minmax(s: Array) -> Array:
    """``(s - min s) / (max s - min s)`` (0 when constant)."""
    lo, hi = jnp.min(s), jnp.max(s)
    span = hi - lo
    return jnp.where(span > 0, (s - lo) / jnp.where(span > 0, span, 1.0), 0.0)


def greedy_submodular(utilities: Array, n: int, parties: Array | None = None) -> Array:
    """Greedy maximisation of ``F(I) = sum_k g(sum_{i in I} u_ki)``, ``g(z) = log(1 + z)``.

    ``utilities`` is ``(K, N)`` with entries ``>= 0``; ``parties`` (``(K,)`` booleans) drops
    parties from the sum. ``F`` is monotone submodular (a concave function of a modular one),
    so the greedy choice of ``n`` items is within ``1 - 1/e`` of the optimum (Nemhauser et
    al. 1978). Ties go to the lowest index. Returns the ``n`` indices in the order chosen.
    """
    k, m = utilities.shape
    if parties is None:
        parties = jnp.ones((k,), bool)
    u = jnp.where(parties[:, None], utilities, 0.0)

    def step(state, _):
        acc, taken = state
        gain = jnp.sum(jnp.log1p(acc[:, None] + u) - jnp.log1p(acc[:, None]), axis=0)
        i = jnp.argmax(jnp.where(taken, -jnp.inf, gain))
        return (acc + u[:, i], taken.at[i].set(True)), i

    init = (jnp.zeros((k,), utilities.dtype), jnp.zeros((m,), bool))
    _, idx = jax.lax.scan(step, init, None, length=n)
    return idx


class SchemeOneResult(NamedTuple):
    """Kept indices, per-party utilities ``(K, N)`` and the fraction of converged solves."""

    indices: Array
    utilities: Array
    converged: Array


def scheme_party_scores(channel, candidates: Points, n: int) -> SchemeOneResult:
    """Scheme I as Qiao et al. run it (``gem_selection.py``, "local_greedy"): every party
    scores all N candidates against its own data (the calibrated OT score of the ``ot``
    rule) and publishes the score vector; the centre turns each into utilities
    ``max(1 - minmax(score), 0)`` and keeps ``n`` by the greedy submodular rule over the
    parties that hold data. No proxy cloud, no party weights."""
    sizes = channel.sizes().counts
    msgs = [channel.scores("ot", candidates, k) for k in range(channel.silos)]
    s = jnp.stack([m.values for m in msgs])
    conv = jnp.stack([m.converged for m in msgs])
    parties = sizes > 0
    util = jnp.where(parties[:, None], jnp.maximum(1.0 - jax.vmap(minmax)(s), 0.0), 0.0)
    idx = greedy_submodular(util, n, parties)
    ok = jnp.sum(jnp.where(parties, conv, False)) / jnp.maximum(jnp.sum(parties), 1)
    return SchemeOneResult(idx, util, ok.astype(candidates.dtype))


def scheme_interpolation(channel, candidates: Points, n: int, tau,
                         settings: transport.SinkhornSettings) -> SchemeOneResult:
    """Scheme I: collaborative geodesic interpolation with submodular aggregation."""
    sizes = channel.sizes().counts
    clouds = channel.geodesic(candidates, tau)

    def party_scores(xi):
        return transport.selection_scores(candidates, xi, settings=settings)

    s, conv = jax.vmap(party_scores)(clouds.points)
    util = jnp.maximum(1.0 - jax.vmap(minmax)(s), 0.0)
    parties = sizes > 0
    idx = greedy_submodular(util, n, parties)
    ok = jnp.concatenate([conv[parties.nonzero(size=conv.shape[0], fill_value=0)[0]],
                          clouds.converged])
    return SchemeOneResult(idx, util, jnp.mean(ok.astype(candidates.dtype)))


class SchemeTwoResult(NamedTuple):
    """Kept indices, the final barycenter support, the Frechet variance of every round
    ``(rounds + 1,)`` (index ``r`` at the support after ``r`` rounds) and the fraction of
    converged solves."""

    indices: Array
    support: Points
    frechet: Array
    converged: Array


SILO_WEIGHTS = ("uniform", "sizes")


def barycenter_protocol(channel, support: Points, rounds: int, unroll: bool = False,
                        weights: str = "sizes"):
    """``rounds`` rounds of Scheme II from ``support``.

    Round ``r``: broadcast ``X_r``; silo ``k`` returns ``T_k(X_r)`` and ``OT_eps(X_r, Q_k)``;
    ``X_{r+1} = sum_k lambda_k T_k(X_r)`` with ``lambda_k = n_k / sum n`` (``weights =
    "sizes"``) or ``1 / K`` over the silos that hold data (``"uniform"``, Qiao et al.'s
    ``compute_barycenter``; an empty silo would only return the broadcast cloud). Without pooling,
    this is the fixed-point iteration of Cuturi and Doucet (2014) that ott-jax's
    ``FreeWassersteinBarycenter`` runs on pooled data. Returns ``X_rounds``, the Frechet
    variance ``sum_k lambda_k OT_eps(X_r, Q_k)`` for ``r = 0 .. rounds`` and the per-round
    Sinkhorn flags. ``unroll=True`` runs a Python loop (one recorded message per round, for
    transcripts and replays); otherwise one ``lax.scan`` (one compiled round; use a
    non-recording channel).
    """
    lam = channel.sizes().counts
    if weights == "uniform":
        lam = (lam > 0).astype(support.dtype)
    lam = lam / jnp.sum(lam)

    def one_round(x):
        msg = channel.geodesic(x, 1.0)
        return (jnp.einsum("k,kmd->md", lam, msg.points), jnp.sum(lam * msg.cost),
                jnp.all(msg.converged))

    if unroll:
        x, costs, flags = support, [], []
        for r in range(rounds + 1):
            x_next, c, ok = one_round(x)
            costs.append(c)
            flags.append(ok)
            if r < rounds:
                x = x_next
        return x, jnp.stack(costs), jnp.stack(flags)

    def body(carry, _):
        x, _prev = carry
        x_next, c, ok = one_round(x)
        return (x_next, x), (c, ok)

    (_, x), (costs, flags) = jax.lax.scan(body, (support, support), None, length=rounds + 1)
    return x, costs, flags


def scheme_barycenter(channel, candidates: Points, n: int, rounds: int, support_size: int,
                      settings: transport.SinkhornSettings, unroll: bool = False,
                      weights: str = "sizes") -> SchemeTwoResult:
    """Scheme II: collaborative free-support barycenter, then one scoring pass.

    The support starts at the first ``support_size`` candidates (candidates are i.i.d., so
    this is a uniform subsample; Qiao et al. start at all of them); ``weights`` as in
    :func:`barycenter_protocol`.
    """
    x, frechet, flags = barycenter_protocol(channel, candidates[:support_size], rounds, unroll,
                                            weights)
    scores, conv = transport.selection_scores(candidates, x, settings=settings)
    idx = keep_lowest(scores, n)
    ok = jnp.concatenate([flags, conv[None]]).astype(candidates.dtype)
    return SchemeTwoResult(idx, x, frechet, jnp.mean(ok))
