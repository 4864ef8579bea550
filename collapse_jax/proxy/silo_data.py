"""Data silos that keep their raw data private and answer only through published messages.

A real sample with mode labels is split across ``K`` silos by the Dirichlet(beta) non-IID
label split of Hsu et al. (2019): for every mode ``m`` the silo proportions
``p_m ~ Dirichlet(beta 1_K)``, and each point of mode ``m`` goes to silo ``k`` with
probability ``p_mk``. Small ``beta`` gives each mode to few silos (skewed); large ``beta``
gives every silo the same mixture (IID).

Privacy is a property of the API (theory.md 1.5):

* :class:`SiloBank` holds the private points behind name-mangled slots. It is not a pytree,
  cannot be pickled or copied, prints no data, and has no method that returns its points.
* Central code talks to silos only through a :class:`Channel`, whose every answer is one of
  the published message types :class:`PublishedScores` (a score vector over the candidates
  the centre sent), :class:`PublishedClouds` (a proxy point cloud per silo: points on the
  geodesic from a broadcast cloud toward the silo's data, plus the silo's transport cost)
  or :class:`PublishedSizes` (how many points each silo holds).
* The channel records every message in a transcript; :class:`ReplayChannel` answers from a
  transcript alone, with no silo behind it. A selection rule that only uses the channel
  therefore gives the same output when replayed, which the tests check: the selected set is
  a function of the published messages and of nothing else.

What a message reveals is stated, not hidden: a geodesic point ``(1 - tau) x + tau T(x)``
reveals the entropic barycentric average ``T(x)`` of nearby private points; no message
contains a private row itself.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from collapse_jax.core import linalg, mixture, transport
from collapse_jax.core._types import Array, Bool, Key, Points
from collapse_jax.core._validate import check_choice, check_float

SCORE_RULES = ("ot", "kmeans", "center-match", "cov-match", "cov-match-greedy")


def log_gamma_from(stream, shape_param, shape: tuple, proposals: int = 16):
    """``log G`` for ``G ~ Gamma(shape_param, 1)``, i.i.d. with the given ``shape``, from a
    :class:`collapse_jax.core.mixture.Uniforms` stream.

    Marsaglia and Tsang (2000) for ``a + 1`` with ``proposals`` vectorised proposals (the
    first accepted one is used; each is accepted with probability above 0.95, so all are
    rejected with probability below 1e-20, and the draw then falls back to ``a + 2/3``),
    boosted to ``a`` by ``G_a = G_{a+1} U^{1/a}``; returned in log space, which stays finite
    for the tiny variates of small ``a``. A fixed-length alternative to the rejection
    ``while_loop`` of ``jax.random.gamma``: cheap to compile and to ``vmap``.
    """
    a = jnp.asarray(shape_param)
    x = stream.normals(shape + (proposals,))
    u = stream.take(shape + (proposals,))
    boost = stream.take(shape)
    dtype = jnp.result_type(x.dtype, a.dtype)
    a = a.astype(dtype)
    d = a + 1.0 - 1.0 / 3.0
    c = 1.0 / jnp.sqrt(9.0 * d)
    v = (1.0 + c * x) ** 3
    ok = (v > 0) & (jnp.log(u) < 0.5 * x**2 + d - d * v + d * jnp.log(jnp.where(v > 0, v, 1.0)))
    first = jnp.argmax(ok, axis=-1)
    v_sel = jnp.take_along_axis(v, first[..., None], axis=-1)[..., 0]
    v_sel = jnp.where(jnp.any(ok, axis=-1), v_sel, 1.0)
    return jnp.log(d * v_sel) + jnp.log(boost) / a


def log_gamma_variates(key: Key, shape_param, shape: tuple, proposals: int = 16):
    """:func:`log_gamma_from` with its own key (one ``jax.random`` call)."""
    size = mixture.uniforms_needed(lambda s: log_gamma_from(s, 1.0, shape, proposals))
    return log_gamma_from(mixture.uniform_block(key, size, jnp.result_type(float)),
                          shape_param, shape, proposals)


def dirichlet_split_from(stream, labels: Array, modes: int, silos: int, beta) -> Array:
    """Silo index of every point under the Dirichlet(beta) label split (Hsu et al. 2019):
    ``p_m ~ Dirichlet(beta 1_K)`` per mode (normalised Gamma variates), then each point of
    mode ``m`` goes to silo ``k`` with probability ``p_mk`` (inverse CDF)."""
    log_g = log_gamma_from(stream, beta, (modes, silos))
    p = jax.nn.softmax(log_g, axis=1)
    cdf = jnp.cumsum(p, axis=1)[labels]
    u = stream.take((labels.shape[0],))
    return jnp.minimum(jnp.sum(u[:, None] > cdf, axis=1), silos - 1)


def dirichlet_split(key: Key, labels: Array, modes: int, silos: int, beta) -> Array:
    """:func:`dirichlet_split_from` with its own key (one ``jax.random`` call)."""
    size = mixture.uniforms_needed(
        lambda s: dirichlet_split_from(s, labels, modes, silos, 1.0))
    return dirichlet_split_from(mixture.uniform_block(key, size, jnp.result_type(float)),
                                labels, modes, silos, beta)


def membership(silo_of: Array, silos: int, dtype) -> Array:
    """``(K, n)`` 0/1 weights: row ``k`` marks the points of silo ``k``."""
    return (silo_of[None, :] == jnp.arange(silos)[:, None]).astype(dtype)


def greedy_covariance_rank(candidates: Points, ref_cov: Array, keep: int) -> Array:
    """Qiao et al.'s CovMatch (``selection/image_selection.py``): pick ``keep`` candidates one
    at a time, each the one whose addition brings the picked set's unbiased covariance
    closest to ``ref_cov`` in Frobenius norm (the first pick is theirs at random: here the
    first candidate, the candidates being i.i.d.). Returns each candidate's pick rank
    (``keep`` for those never picked)."""
    n_c, d = candidates.shape
    x = candidates
    outer = x[:, :, None] * x[:, None, :]

    def step(k, state):
        used, s1, s2, rank = state
        m = (k + 1).astype(x.dtype)
        mean = (s1[None] + x) / m
        cov = (s2[None] + outer) / m - mean[:, :, None] * mean[:, None, :]
        cov = cov * jnp.where(m > 1, m / jnp.maximum(m - 1.0, 1.0), 1.0)
        loss = jnp.sum((cov - ref_cov[None]) ** 2, axis=(1, 2))
        loss = jnp.where(used, jnp.inf, loss)
        best = jnp.where(k == 0, 0, jnp.argmin(loss))
        return (used.at[best].set(True), s1 + x[best], s2 + outer[best],
                rank.at[best].set(k.astype(rank.dtype)))

    state = (jnp.zeros(n_c, bool), jnp.zeros(d, x.dtype), jnp.zeros((d, d), x.dtype),
             jnp.full(n_c, float(keep), x.dtype))
    return jax.lax.fori_loop(0, keep, step, state)[3]


class PublishedSizes(NamedTuple):
    """Number of points each silo holds (public metadata)."""

    counts: Array


class PublishedScores(NamedTuple):
    """A score vector over the candidates the centre sent (lower = keep first), with the
    Sinkhorn flag of the solve behind it (True for rules that solve nothing)."""

    values: Array
    converged: Bool[Array, ""]


class PublishedClouds(NamedTuple):
    """One proxy point cloud per silo, ``(K, m, d)``, with weights equal to those of the
    broadcast cloud, each silo's regularised transport cost from the broadcast cloud to its
    data ``(K,)`` and the Sinkhorn flags ``(K,)``. Rows of empty silos are the broadcast
    cloud itself, with cost 0."""

    points: Array
    cost: Array
    converged: Array


class SiloBank:
    """``K`` silos' private data. Answers requests; never returns its points.

    The data are the rows of ``points`` ``(n, d)`` with silo weights ``members`` ``(K, n)``
    (0/1), or, per party, ``points`` ``(K, P, d)`` with weights ``members`` ``(K, P)`` (0 on
    padding rows): then every solve against silo ``k`` reads its ``P`` rows only, not all
    ``n``. Requests are vectorised over silos with ``vmap`` and may run under ``jit``.
    """

    __slots__ = ("__points", "__members", "__settings")

    def __init__(self, points: Points, members: Array, settings: transport.SinkhornSettings):
        self.__points = points
        self.__members = members
        self.__settings = settings

    # Private data must not leak through generic Python or JAX machinery.
    def __repr__(self) -> str:
        return f"SiloBank(silos={self.__members.shape[0]}, dim={self.__points.shape[-1]})"

    def __rows(self, silo):
        """Silo ``silo``'s candidate rows and their weights."""
        if self.__points.ndim == 3:
            return self.__points[silo], self.__members[silo]
        return self.__points, self.__members[silo]

    def __reduce__(self):
        raise TypeError("SiloBank holds private data and cannot be pickled")

    def __copy__(self):
        raise TypeError("SiloBank holds private data and cannot be copied")

    def __deepcopy__(self, memo):
        raise TypeError("SiloBank holds private data and cannot be copied")

    @property
    def silos(self) -> int:
        return self.__members.shape[0]

    def sizes(self) -> PublishedSizes:
        return PublishedSizes(jnp.sum(self.__members, axis=1))

    def scores(self, rule: str, candidates: Points, silo, clusters: int = 8,
               keep: int = 1) -> PublishedScores:
        """Score of every candidate against silo ``silo``'s own data under ``rule``.

        ``ot``: calibrated OT score from the Sinkhorn potential (candidates uniform, silo
        data uniform). ``kmeans``: squared distance to the nearest of ``clusters`` Lloyd
        centres of the silo data (prototype matching). ``center-match``: squared distance
        to the silo mean. ``cov-match``: ``(D^2(x) - d)^2`` with ``D^2`` the Mahalanobis
        distance under the silo's mean and covariance: keeps candidates at the typical
        radius, so the kept set matches the silo covariance to first order.
        ``cov-match-greedy`` (Qiao et al.'s CovMatch baseline): the silo runs
        :func:`greedy_covariance_rank` for ``keep`` picks against its own unbiased covariance
        and publishes the ranks (the pick order; ``keep`` and above for the rest), so the
        ``keep`` lowest scores are its greedy set.
        """
        check_choice("SiloBank.scores", "rule", rule, SCORE_RULES)
        x, w = self.__rows(silo)
        if rule == "ot":
            return PublishedScores(*transport.selection_scores(candidates, x, w,
                                                               settings=self.__settings))
        ok = jnp.asarray(True)
        if rule == "kmeans":
            c = mixture.kmeans(x, w, clusters)
            d2 = jnp.min(jnp.sum((candidates[:, None, :] - c[None]) ** 2, axis=-1), axis=1)
            return PublishedScores(d2, ok)
        wn = w / jnp.sum(w)
        mean = wn @ x
        if rule == "center-match":
            return PublishedScores(jnp.sum((candidates - mean) ** 2, axis=1), ok)
        d = x.shape[1]
        if rule == "cov-match-greedy":
            m = jnp.sum(w)
            ref = (w[:, None] * (x - mean)).T @ (x - mean) / jnp.maximum(m - 1.0, 1.0)
            return PublishedScores(greedy_covariance_rank(candidates, ref, keep), ok)
        cov = (wn[:, None] * (x - mean)).T @ (x - mean) + 1e-6 * jnp.eye(d, dtype=x.dtype)
        diff = candidates - mean
        m2 = jnp.sum(diff * linalg.spd_solve(cov, diff.T).T, axis=1)
        return PublishedScores((m2 - d) ** 2, ok)

    def geodesic(self, cloud: Points, tau) -> PublishedClouds:
        """Every silo's point ``tau`` on the geodesic from ``cloud`` (uniform weights) toward
        its own data; ``tau = 1`` gives the entropic Monge map ``T_k(cloud)``."""
        settings = self.__settings

        def one(x, w):
            empty = jnp.sum(w) <= 0
            w_safe = jnp.where(empty, jnp.ones_like(w), w)
            pts, sol = transport.geodesic_cloud(cloud, x, tau, None, w_safe, settings=settings)
            return (jnp.where(empty, cloud, pts), jnp.where(empty, 0.0, sol.cost),
                    sol.converged | empty)

        if self.__points.ndim == 3:
            return PublishedClouds(*jax.vmap(one)(self.__points, self.__members))
        return PublishedClouds(*jax.vmap(one, in_axes=(None, 0))(self.__points,
                                                                 self.__members))


class Channel:
    """The centre's only handle on the silos. Every answer is a published message, and
    every message is appended to ``transcript``."""

    __slots__ = ("__bank", "transcript", "_record_on")

    def __init__(self, bank: SiloBank, record: bool = True):
        self.__bank = bank
        self.transcript: list = []
        self._record_on = record

    def __repr__(self) -> str:
        return f"Channel({self.__bank!r}, messages={len(self.transcript)})"

    def __reduce__(self):
        raise TypeError("Channel wraps private silos and cannot be pickled")

    @property
    def silos(self) -> int:
        return self.__bank.silos

    def _record(self, msg):
        if self._record_on:
            self.transcript.append(msg)
        return msg

    def sizes(self) -> PublishedSizes:
        return self._record(self.__bank.sizes())

    def scores(self, rule: str, candidates: Points, silo, clusters: int = 8,
               keep: int = 1) -> PublishedScores:
        return self._record(self.__bank.scores(rule, candidates, silo, clusters, keep))

    def geodesic(self, cloud: Points, tau) -> PublishedClouds:
        return self._record(self.__bank.geodesic(cloud, tau))


class ReplayChannel:
    """Answers the same requests from a recorded transcript, with no silo behind it."""

    def __init__(self, transcript: list, silos: int):
        self._messages = list(transcript)
        self.silos = silos
        self.transcript: list = []

    def _next(self, kind):
        msg = self._messages.pop(0)
        if not isinstance(msg, kind):
            raise RuntimeError(f"ReplayChannel: expected {kind.__name__}, "
                               f"transcript has {type(msg).__name__}")
        self.transcript.append(msg)
        return msg

    def sizes(self) -> PublishedSizes:
        return self._next(PublishedSizes)

    def scores(self, rule, candidates, silo, clusters: int = 8, keep: int = 1
               ) -> PublishedScores:
        return self._next(PublishedScores)

    def geodesic(self, cloud, tau) -> PublishedClouds:
        return self._next(PublishedClouds)


def check_beta(fn: str, beta) -> float:
    """Dirichlet concentration: ``beta > 0``."""
    return check_float(fn, "beta", beta, 0.0, lo_open=True)
