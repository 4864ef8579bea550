"""What still differs between a ``proxy_references`` run and the authors' setup.

Qiao et al.'s code (XinbaoQiao/When-Sample-Selection-Bias-Precipitates-Model-Collapse), read
point by point in docs/proxy_authors_rules.md: ``selection/gem_selection.py`` (the score,
Scheme I and Scheme II), ``selection/image_selection.py`` (the baselines), ``config.py`` and
``experiments/biased_verification_experiment.py`` (the protocol). :func:`differences` lists, for
the flags of one run, every difference that remains, so that the verdict printed beside them
is read as a finding about this setup and not about the paper. The check prints them with its
table and writes them to its JSON (``config["differences_from_the_authors"]``).
"""

from __future__ import annotations

from collapse_jax.core.transport import GEOMLOSS_DECAY

#: The authors' entropic regularisation in this project's cost ``|x - y|^2``: geomloss's
#: ``blur = 0.05`` gives ``eps = blur^2 = 0.0025`` for its cost ``|x - y|^2 / 2``.
AUTHORS_EPSILON = 0.005
#: geomloss anneals epsilon from the squared diameter of the data by ``scaling^2 = 0.81``.
AUTHORS_ANNEAL_FACTOR = GEOMLOSS_DECAY
#: Scheme II: ``compute_barycenter(candidate_features, n_epochs=10)``.
AUTHORS_ROUNDS = 10

#: Differences no flag of this check removes.
FIXED = (
    "K-means baseline (kmeans-pool, the authors' rule): Lloyd's k-means from a farthest-point "
    "start, 20 iterations (authors: scikit-learn's k-means++ at random_state 0, run to "
    "convergence)",
    "CovMatch baseline (cov-match-greedy, the authors' rule): in the data's own few "
    "dimensions, the first pick the first i.i.d. candidate (authors: in a 32-dimensional PCA "
    "of Inception features, the first pick at random)",
    "data and generator: a Gaussian mixture in a few dimensions split over silos by a "
    "Dirichlet rule, refit every generation (authors: CIFAR-10 over 10 parties and a DDPM; "
    "their non-IID loader is missing from the repository, and its GEM driver is a stub, so "
    "no committed code path produces their Table 1)",
    "metrics: mode coverage, tail mass, k-NN precision and recall and a Sinkhorn divergence "
    "to the truth on a few hundred points (authors: FID, precision and recall in Inception "
    "features on thousands of images)",
)


def projection_map(flags: str) -> str:
    """The difference listed while Scheme II's map is the barycentric projection rather than
    the authors' gradient step; ``flags``: what makes it theirs in the calling check."""
    return ("Scheme II's map T_k: the barycentric projection of the entropic plan (authors: "
            "X - N grad_X S_eps(X, Y_k), the gradient of geomloss' debiased divergence, which "
            f"adds the self term's correction; {flags})")


def differences(a) -> list[str]:
    """The differences from the authors' setup that remain for the flags ``a`` of one
    ``proxy_references`` run (an ``argparse.Namespace`` of its parser)."""
    out = []
    if a.score != "debiased":
        out.append("selection score: the calibrated raw OT potential (authors: geomloss's "
                   "debiased potential f_ba - f_aa on the candidate side; --score debiased)")
    if a.epsilon != AUTHORS_EPSILON:
        out.append(f"epsilon {a.epsilon:g} in the cost |x - y|^2 (authors: blur 0.05, i.e. "
                   f"{AUTHORS_EPSILON:g} in this cost; --epsilon {AUTHORS_EPSILON:g})")
    # --schedule geomloss runs geomloss' own loop for the selection scores: the authors'
    # schedule, so neither annealing item applies
    if getattr(a, "schedule", "fixed") != "geomloss":
        if a.anneal == 1.0:
            out.append("no epsilon-scaling (authors: from the squared diameter down to epsilon "
                       f"by {AUTHORS_ANNEAL_FACTOR:g} per iteration; --anneal)")
        else:
            out.append(f"epsilon-scaling starts at {a.anneal:g} x epsilon (authors: at the "
                       "squared diameter of the data)")
    if getattr(a, "support", "n") != "all":
        out.append(f"Scheme II: the support starts at the first n = {a.n} candidates "
                   "(authors: all N = n / alpha candidates; --support all)")
    if a.rounds != AUTHORS_ROUNDS:
        out.append(f"Scheme II: {a.rounds} barycenter rounds (authors: {AUTHORS_ROUNDS} "
                   f"epochs; --rounds {AUTHORS_ROUNDS})")
    if getattr(a, "silo_weights", "sizes") != "uniform":
        out.append("Scheme II: silo weights proportional to their data sizes (authors: "
                   "uniform 1/K; --silo-weights uniform)")
    if not (a.score == "debiased" and getattr(a, "schedule", "fixed") == "geomloss"):
        out.append(projection_map("--score debiased --schedule geomloss"))
    out.extend(FIXED[:2])
    if a.junk == 0.0:
        out.append("generator without a defect (--junk 0): the refit is exact, so random "
                   "selection is an unbiased control that no rule can beat (authors: a DDPM "
                   "whose samples are imperfect; --junk F adds a fraction F of low-quality "
                   "samples)")
    else:
        out.append(f"generator defect: a fraction {a.junk:g} of blurred low-quality samples "
                   "(one Gaussian with the generator's mean and covariance) stands in for the "
                   "imperfect samples of the authors' DDPM")
    out.extend(FIXED[2:])
    chosen = set(getattr(a, "strategies", "").split(","))
    if "kmeans" in chosen:
        out.append("kmeans (this project's variant): squared distance to the nearest of 8 Lloyd "
                   "centres fitted to the owner's data (authors: kmeans-pool)")
    if "interpolation" in chosen:
        out.append("interpolation (this project's Scheme I): every silo publishes the point "
                   "tau of the geodesic from the candidates toward its data and the centre "
                   "scores the candidates against these proxy clouds (authors: party-scores, "
                   "each party's own score vector)")
    if "cov-match" in chosen:
        out.append("cov-match (this project's variant): a per-point Mahalanobis-shell score "
                   "(D^2(x) - d)^2 under the owner's mean and covariance (authors: "
                   "cov-match-greedy)")
    return out
