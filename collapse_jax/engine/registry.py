"""Registry of the simulation kernels that a grid sweep can drive from flat scalar values.

An :class:`Entry` names a pure kernel ``kernel(key, params, cfg, silo) -> (final, metrics)``,
its config builder (keyword arguments -> a hashable NamedTuple of static structure), its params
builder ``params(cfg, **sweepable)`` (each keyword accepts a list: a sweep axis), the config
NamedTuple type (to rebuild a config from the dict a sweep records in ``config.json``), the
sweepable parameter names with their types, and a one-line description. Importing this module
is cheap: the kernel modules are imported on first use of an entry's ``kernel``, ``config``,
``params`` or ``config_type`` (given here as ``"module:attribute"`` strings).

Registered: ``power_law`` (:func:`collapse_jax.power_law.kernel.selection_kernel`), ``knowledge_center``
(:func:`collapse_jax.knowledge_center.kernel.verifier_kernel`), ``gaussian_refit`` and ``real_mixing``
(:func:`collapse_jax.classic.kernel.refit_kernel`, paradigm ``replace`` and ``mix``), ``regression``
(:func:`collapse_jax.classic.fixed_design.ols_kernel`) and ``regression_dohmatob``
(:func:`collapse_jax.classic.fixed_design.dohmatob_kernel`).

Not registered:

* ``vae.kernel.retrain_kernel`` (the VAE / classifier retraining): its params hold shared data
  arrays (the real set's images and features, :func:`collapse_jax.vae.kernel.real_set`), which
  no flat scalar can describe.
* ``proxy_loop.proxy_kernel``: every per-generation metric carries a strategy axis
  (``(T + 1, S)``, plus ``eval`` samples), which the sweep's per-generation scalar summaries
  skip, so a point file would hold no rows; its EM / Sinkhorn program also compiles for minutes.
* ``ot_layer.gaussian_ot_kernel``: nothing to sweep (its params are closed forms derived from
  the config) and its metrics are nested per sample size, not per generation.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

#: Scalar types a sweepable parameter may have.
AXIS_TYPES = (float, int, str)


def _resolve(ref):
    if isinstance(ref, str):
        module, _, attr = ref.partition(":")
        return getattr(importlib.import_module(module), attr)
    return ref


@dataclass(frozen=True)
class Entry:
    """One registered kernel (see the module docstring). ``kernel``, ``config``, ``params``
    and ``config_type`` import their module on first access."""

    name: str
    doc: str
    sweepable: Mapping[str, type]
    kernel_ref: object
    config_ref: object
    params_ref: object
    config_type_ref: object
    #: Recorded as ``"kernel"`` in ``config.json`` (the name before the registry existed).
    record_name: str
    #: Defaults of the config builder's keywords that differ from the builder's own.
    config_defaults: Mapping[str, object] = field(default_factory=dict)
    #: ``sizes(grid) -> {config keyword: value}``: buffer sizes that fit the swept values
    #: (``--config`` overrides them).
    sizes: Callable[[dict], dict] | None = None

    @property
    def kernel(self):
        return _resolve(self.kernel_ref)

    @property
    def config(self):
        return _resolve(self.config_ref)

    @property
    def params(self):
        return _resolve(self.params_ref)

    @property
    def config_type(self):
        return _resolve(self.config_type_ref)

    def config_fields(self) -> dict[str, tuple[type, object]]:
        """``{keyword: (type, default)}`` of the config builder (defaults of this entry)."""
        out = {}
        for k, p in inspect.signature(self.config).parameters.items():
            default = self.config_defaults.get(k, p.default)
            out[k] = (_kind(p.annotation, default), default)
        return out

    def param_defaults(self) -> dict[str, object]:
        """``{sweepable name: builder default}`` (``None``: derived from the config)."""
        sig = inspect.signature(self.params).parameters
        return {k: sig[k].default for k in self.sweepable}

    def build_config(self, grid: dict | None = None, **overrides):
        """The config: entry defaults, then sizes fitted to ``grid``, then ``overrides``."""
        kw = dict(self.config_defaults)
        if grid and self.sizes is not None:
            kw.update(self.sizes(grid))
        kw.update(overrides)
        return self.config(**kw)

    def config_from_dict(self, d: dict):
        """Rebuild the config NamedTuple from its recorded (JSON) dict: lists become tuples
        and nested NamedTuples again, so that the config stays hashable."""
        ref = self.build_config()
        return type(ref)(**{k: _like(d[k], getattr(ref, k)) for k in ref._fields})

    def make_params(self, cfg) -> Callable[..., object]:
        """``make_params(**lists)`` for :func:`collapse_jax.engine.sweep.run_grid`."""
        build = self.params
        return lambda **kw: build(cfg, **kw)


def _like(value, ref):
    if isinstance(ref, tuple) and isinstance(value, (list, tuple)):
        items = [_like(v, r) for v, r in zip(value, ref)] if hasattr(ref, "_fields") else [
            _like(v, ref[0] if ref else None) for v in value]
        return type(ref)(*items) if hasattr(ref, "_fields") else tuple(items)
    return value


def _kind(annotation, default) -> type:
    """The scalar type of a config keyword: from its default, else from its annotation."""
    if default is not None and default is not inspect.Parameter.empty:
        return type(default) if isinstance(default, (bool, int, float, str, tuple)) else str
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    for name, t in (("tuple", tuple), ("bool", bool), ("int", int), ("float", float)):
        if name in text:
            return t
    return str


_REGISTRY: dict[str, Entry] = {}


def register(name: str, *, kernel, config, params, config_type, sweepable: Mapping[str, type],
             doc: str, record_name: str | None = None, config_defaults: Mapping | None = None,
             sizes: Callable[[dict], dict] | None = None) -> Entry:
    """Register a kernel under ``name``; ``kernel``, ``config``, ``params`` and
    ``config_type`` are objects or ``"module:attribute"`` strings (imported on first use)."""
    if not name.isidentifier() or name in _REGISTRY:
        raise ValueError(f"register: name={name!r} is invalid or already registered")
    bad = [k for k, t in sweepable.items() if t not in AXIS_TYPES]
    if not sweepable or bad:
        raise ValueError(f"register: sweepable of {name!r} must map names to float, int or "
                         f"str (bad: {bad})")
    e = Entry(name, doc, dict(sweepable), kernel, config, params, config_type,
              record_name or name, dict(config_defaults or {}), sizes)
    _REGISTRY[name] = e
    return e


def get(name: str) -> Entry:
    """The entry registered as ``name`` (``KeyError`` naming the registered ones otherwise)."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"no kernel {name!r} registered; allowed {', '.join(names())}") from None


def names() -> tuple[str, ...]:
    """Registered names, in registration order."""
    return tuple(_REGISTRY)


def by_record_name(recorded: str) -> Entry | None:
    """The entry whose sweeps record ``recorded`` as their kernel (its ``record_name``, its
    registry name, or the kernel function's ``__name__``, as :func:`run_grid` records by
    default); ``None`` when none does."""
    for e in _REGISTRY.values():
        if recorded in (e.record_name, e.name):
            return e
    for e in _REGISTRY.values():
        if getattr(e.kernel, "__name__", None) == recorded:
            return e
    return None


# --- sizes fitted to a grid ------------------------------------------------------------------

def _selection_sizes(grid: dict) -> dict:
    out = {}
    if "n" in grid:
        out["n"] = out["n_max"] = int(max(grid["n"]))
    if "alpha" in grid:
        out["alpha"], out["alpha_min"] = max(grid["alpha"]), min(grid["alpha"])
    return out


def _refit_sizes(grid: dict) -> dict:
    out = {}
    for k in ("n", "m"):
        if k in grid:
            out[k] = int(max(grid[k]))
    return out


# --- the registered kernels ------------------------------------------------------------------

register("power_law", kernel="collapse_jax.power_law.kernel:selection_kernel",
         config="collapse_jax.power_law.kernel:selection_config",
         params="collapse_jax.power_law.kernel:selection_params",
         config_type="collapse_jax.power_law.kernel:SelectionConfig",
         sweepable={"alpha": float, "n": int, "offset": float, "fixed_scale": float},
         doc="Gaussian top-alpha selection, refit on the kept points "
             "(power_law.kernel.selection_kernel)",
         record_name="selection_kernel", sizes=_selection_sizes)
register("knowledge_center", kernel="collapse_jax.knowledge_center.kernel:verifier_kernel",
         config="collapse_jax.knowledge_center.kernel:verifier_config",
         params="collapse_jax.knowledge_center.kernel:verifier_params",
         config_type="collapse_jax.knowledge_center.kernel:VerifierConfig",
         sweepable={"delta": float, "r": float, "sigma": float, "sigma_c": float, "s": float,
                    "verify": int},
         doc="verifier-filtered retraining of a linear regression "
             "(knowledge_center.kernel.verifier_kernel)",
         record_name="verifier_kernel")
register("gaussian_refit", kernel="collapse_jax.classic.kernel:refit_kernel",
         config="collapse_jax.classic.kernel:refit_config",
         params="collapse_jax.classic.kernel:refit_params",
         config_type="collapse_jax.classic.kernel:RefitConfig",
         sweepable={"n": int, "estimator": str},
         doc="Gaussian refit on its own samples, replace paradigm (classic.kernel.refit_kernel)",
         config_defaults={"paradigm": "replace"}, sizes=_refit_sizes)
register("real_mixing", kernel="collapse_jax.classic.kernel:refit_kernel",
         config="collapse_jax.classic.kernel:refit_config",
         params="collapse_jax.classic.kernel:refit_params",
         config_type="collapse_jax.classic.kernel:RefitConfig",
         sweepable={"n": int, "lam": float, "m": int},
         doc="Gaussian refit on real data mixed with lam-weighted synthetic data "
             "(classic.kernel.refit_kernel, paradigm mix)",
         config_defaults={"paradigm": "mix"}, sizes=_refit_sizes)
register("regression", kernel="collapse_jax.classic.fixed_design:ols_kernel",
         config="collapse_jax.classic.fixed_design:ols_config",
         params="collapse_jax.classic.fixed_design:ols_params",
         config_type="collapse_jax.classic.fixed_design:OLSConfig",
         sweepable={"noise": float},
         doc="OLS retrained on its own labels, fixed design, every paradigm "
             "(classic.fixed_design.ols_kernel)")
register("regression_dohmatob", kernel="collapse_jax.classic.fixed_design:dohmatob_kernel",
         config="collapse_jax.classic.fixed_design:ols_config",
         params="collapse_jax.classic.fixed_design:ols_params",
         config_type="collapse_jax.classic.fixed_design:OLSConfig",
         sweepable={"noise": float, "noise0": float},
         doc="test error of OLS trained on generation-n labels (Dohmatob et al. 2024; "
             "fixed_design.dohmatob_kernel)")
