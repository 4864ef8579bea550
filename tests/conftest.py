"""Shared test settings.

Monte Carlo comparisons use ``|estimate - exact| <= Z * SE`` with ``Z = 4``: a two-sided
false-alarm rate of 6.3e-5 per comparison for a normal estimate, so the ~30 such comparisons
of the suite give a spurious failure about once in 500 runs. Keys are fixed per test, so a
run is deterministic.

One pytest process compiles thousands of XLA programs. Each compiled CPU program holds about
six memory mappings until it is released, and Linux allows 65,530 per process by default
(``vm.max_map_count``): measured, the suite passed 18,500 mappings and 3.8 GB at 22% of its
tests, and every CI run that crashed died with a segmentation fault inside XLA's CPU compiler
or executable serialiser at about 82%. So every test module ends by releasing JAX's compiled
programs (``collapse_jax.engine.batch.clear_caches``: JAX's caches and the engine's compiled
chunk programs) and returning the freed heap to the system (glibc ``malloc_trim``), which
keeps the process's mappings and memory bounded.

Within a module, a test that starts with the process above ``RELEASE_ABOVE_BYTES`` resident,
and a test marked ``heavy_memory``, start with every compiled program released (the marked
one ends with a release too; a test marked ``reuses_programs``, a negative control rerunning
the programs of the test above it, is exempt from the resident rule): measured on 2026-12-05
over the whole suite, 2.89 GB summed over its processes at the peak and 1.55 GB in one
process, against 3.22-3.34 GB and 1.89-1.90 GB.

The persistent compilation cache is off for the suite: in this process (``jax_enable_
compilation_cache``), and for the checks the tests start as child processes
(``COLLAPSE_JAX_COMPILE_CACHE=off``), so a test run never writes into the user's cache folder;
the tests of the cache pass ``--compile-cache DIR`` explicitly. The checks' progress lines are
off as well (``COLLAPSE_JAX_PROGRESS=0``) so the suite's output stays the verdicts;
``tests/verdict/test_live.py`` turns them on explicitly.

XLA compiles the suite's programs at backend optimisation level 1 (``XLA_FLAGS``, for this
process and the checks it starts; a test that sets its own ``XLA_FLAGS`` replaces it), and
the default suite's (a run that deselects the slow tests) with its older CPU fusion emitters
as well: the default suite is compile-bound. On 2 cores level 1 compiled the kernels of
``benchmarks/kernels.py`` 12-22% faster than the default while they ran within 5% of the
default's speed; ``--xla_cpu_use_fusion_emitters=false`` took the default suite's summed
memory peak from 2.89-3.10 to 2.47-2.49 GB (docs/speed.md), but the slow suite from 24-25 to
36 minutes, so the slow tests keep the newer emitters. The checks a user runs keep XLA's
defaults. Internal-error logs of the checks the tests run go to a folder of the run
(``COLLAPSE_JAX_LOG_DIR``), not the system's temporary folder.

In the default suite each xdist worker runs on its own share of the cores (its XLA thread
pools sized to it: the two workers' threads no longer take the cores from each other), and
the longest modules are scheduled first (:data:`LONG_MODULES`) so that the workers end
together: measured on 2 cores of the AMD EPYC on 2026-12-06, 9:21 against 10:32 and 11:30
unpinned in xdist's order, the same hour (``tests/test_suite_schedule.py``, docs/speed.md).
"""

import collections
import ctypes
import gc
import os
import subprocess
import sys

import pytest

from collapse_jax.verdict.cli import usable_cores

#: Appended to ``XLA_FLAGS`` before JAX starts its backend (importing JAX does not start it),
#: each unless ``XLA_FLAGS`` already names it (see the module docstring).
SUITE_XLA_FLAGS = {"xla_backend_optimization_level": "1"}
#: Appended as well when the run deselects the slow tests (the default suite, compile-bound):
#: the older fusion emitters compile faster, but the slow suite's runs, bound by running, ran
#: up to twice as slow with them (the VAE's training; docs/speed.md). Each is probed once, in
#: a child process, since an older jaxlib within the project's range may not know it and XLA
#: stops a process on an unknown flag; the xdist workers inherit the controller's ``XLA_FLAGS``.
COMPILE_BOUND_XLA_FLAGS = {"xla_cpu_use_fusion_emitters": "false"}


def _xla_accepts(setting: str) -> bool:
    """Whether this jaxlib starts its CPU backend with ``XLA_FLAGS=setting`` (about 2 s)."""
    env = {**os.environ, "XLA_FLAGS": setting, "JAX_PLATFORMS": "cpu"}
    try:
        done = subprocess.run([sys.executable, "-c", "import jax; jax.devices()"], env=env,
                              capture_output=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _add_xla_flags(flags: dict, probe: bool) -> None:
    for flag, value in flags.items():
        setting = f"--{flag}={value}"
        if flag in os.environ.get("XLA_FLAGS", "") or (probe and not _xla_accepts(setting)):
            continue
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {setting}".strip()


_add_xla_flags(SUITE_XLA_FLAGS, probe=False)
os.environ.setdefault("COLLAPSE_JAX_COMPILE_CACHE", "off")
os.environ.setdefault("COLLAPSE_JAX_PROGRESS", "0")


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    """Add the compile-bound flags to ``XLA_FLAGS`` for a run that deselects the slow tests
    (in the controller before xdist starts its workers, which inherit them), then configure
    JAX in every process that runs tests: an xdist worker, or the one process of ``-n 0``.
    The xdist controller (the process where xdist registered its ``dsession`` plugin, whose
    ``pytest_configure`` ran before this one) only schedules and reports: it
    never imports JAX, which kept 0.14 GB resident in it for the whole run (measured
    2026-12-05: the controller held 0.18-0.22 GB of the suite's 2.9-3.1 GB summed peak)."""
    default_suite = "not slow" in (config.getoption("markexpr", "") or "")
    if default_suite:
        _add_xla_flags(COMPILE_BOUND_XLA_FLAGS, probe=True)  # before xdist starts its workers
    if config.pluginmanager.has_plugin("dsession"):
        return
    if default_suite:
        _pin_worker_to_its_cores()
    import jax

    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_enable_compilation_cache", False)


def _pin_worker_to_its_cores() -> None:
    """Give each xdist worker of the default suite its own share of the usable cores
    (``sched_setaffinity``, before JAX starts its backend, so XLA sizes its CPU thread pools
    to that share; the checks a test starts inherit it). Unpinned, each worker's XLA spread
    its compiling and running over every core and the two workers' threads took the cores
    from each other: on 2 cores ``tests/power_law/test_check.py`` alone took 77.9 s wall and
    110 s of user CPU free to use both cores, 70.8 s and 69.4 s pinned to one, and the default
    suite 9:42 pinned against 10:32 and 11:30 unpinned the same hour (docs/speed.md). The slow
    suite, bound by running, is not pinned: a lone check runs faster on both cores (the
    default ``power_law`` run 38.1 s against 57.9 s pinned to one), and its test of the
    one-device-per-core split needs two cores."""
    worker, count = os.environ.get("PYTEST_XDIST_WORKER"), os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if not (worker and count and hasattr(os, "sched_setaffinity")):
        return
    cores, workers = sorted(os.sched_getaffinity(0)), int(count)
    index = int(worker.removeprefix("gw"))
    if workers < 2 or len(cores) < workers or index >= workers:
        return
    os.sched_setaffinity(0, cores[index::workers])


#: The test modules that run longest, longest first (seconds in one worker of the pinned
#: default suite, 2026-12-06, AMD EPYC: 98, 86, 85, 75, 68, 62, 57, 55, 52). They are
#: scheduled first (:func:`pytest_collection_modifyitems` and ``--no-loadscope-reorder`` in
#: pyproject's addopts) so that the run ends on short modules: scheduled by xdist's own rule
#: (modules with more tests first) the preset's module ran last and one worker idled 48 s.
LONG_MODULES = (
    "tests/proxy/test_check.py", "tests/power_law/test_check.py", "tests/vae/test_check.py",
    "tests/power_law/test_product_laplace.py", "tests/power_law/test_preset.py",
    "tests/power_law/test_non_gaussian.py", "tests/vae/test_models.py",
    "tests/core/test_coverage.py", "tests/power_law/test_kernel.py",
)


def pytest_collection_modifyitems(config, items):
    """Order the modules: :data:`LONG_MODULES` first, in that order, then the others by
    their number of tests, most first (xdist's own rule), each module's tests in their order.
    Deterministic, so every xdist worker collects the same list."""
    def module(item):
        return item.nodeid.split("::")[0]

    counts = collections.Counter(module(item) for item in items)
    rank = {m: i for i, m in enumerate(LONG_MODULES)}
    first = {}
    for i, item in enumerate(items):
        first.setdefault(module(item), i)
    items.sort(key=lambda it: (rank.get(module(it), len(rank)), -counts[module(it)],
                               first[module(it)]))


Z = 4.0

#: Memory one test worker may reach (the heaviest modules peak near 3 GB).
WORKER_BYTES = 4 * 2**30


def pytest_xdist_auto_num_workers(config):
    """``-n auto`` (pyproject's addopts): one worker per core, at most one per 4 GiB of
    available memory and at most 4 (each worker compiles its own programs). Modules stay on
    one worker in order (``--dist loadfile``): a module's later tests reuse its earlier
    tests' compiled programs."""
    cores = usable_cores()
    try:
        with open("/proc/meminfo") as f:
            avail = next(int(line.split()[1]) * 1024 for line in f
                         if line.startswith("MemAvailable:"))
    except (OSError, StopIteration, ValueError):
        avail = 2 * WORKER_BYTES
    return max(1, min(cores, avail // WORKER_BYTES, 4))


@pytest.fixture
def z():
    return Z


@pytest.fixture(autouse=True, scope="session")
def _internal_error_logs_in_a_test_folder(tmp_path_factory):
    """The checks' internal-error and watchdog logs (``COLLAPSE_JAX_LOG_DIR``) go to a folder
    of this run, not the system temporary folder, for the tests that exercise them without
    naming a folder of their own: each left a ``collapse_jax-NAME-PID.log`` there per run."""
    if "COLLAPSE_JAX_LOG_DIR" in os.environ:
        yield
        return
    os.environ["COLLAPSE_JAX_LOG_DIR"] = str(tmp_path_factory.mktemp("check_logs"))
    yield
    os.environ.pop("COLLAPSE_JAX_LOG_DIR", None)


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
    """Release every compiled program when a test module ends (see the module doc)."""
    yield
    _release_compiled_programs_now()


@pytest.fixture(autouse=True)
def _trim_after_each_test(request):
    """Return what each test freed to the system as well (see :func:`_return_freed_memory`;
    well under a millisecond a call), so that one test's peak does not stay resident under
    the next test's. A test that starts with the process above ``RELEASE_ABOVE_BYTES``
    resident starts with every compiled program released; a test marked ``heavy_memory``
    starts and ends so (its module's earlier programs do not sit under its own peak, and its
    programs not under the module's later tests)."""
    heavy = request.node.get_closest_marker("heavy_memory") is not None
    reuses = request.node.get_closest_marker("reuses_programs") is not None
    if _release_before(heavy, reuses, _resident_bytes()):
        _release_compiled_programs_now()
    yield
    if heavy:
        _release_compiled_programs_now()  # returns the freed memory too
    else:
        _return_freed_memory()


#: A test that starts with the process above this resident size starts with every compiled
#: program released: a module's small tests add their programs one by one (measured on
#: 2026-12-05: ``tests/vae/test_models.py`` from 0.37 to 0.94 GB before its heaviest test,
#: ``tests/power_law/test_kernel.py`` to 1.4 GB).
RELEASE_ABOVE_BYTES = 2**30


def _release_before(heavy: bool, reuses: bool, resident: int) -> bool:
    """Whether a test starts with every compiled program released: one marked
    ``heavy_memory`` always; one marked ``reuses_programs`` (a negative control that reruns
    the programs its module's test above compiled, at the same sizes) never by the resident
    rule, since releasing them would only compile them again (measured in CI on 2026-12-05:
    the non-Gaussian check's negative controls took 67 s when the rule released the check's
    programs, 9.4 s when it did not), and rerunning them adds at most the few programs its
    own setting changes; any other test when the process is above ``RELEASE_ABOVE_BYTES``
    resident. The exemption may cost memory: CI on 38e8b82 peaked at 3.10 GB summed over the
    suite's processes, but the later runs' peaks were the proxy ``--quick`` test beside
    unmarked tests (docs/speed.md), so that cost is not isolated."""
    return heavy or (not reuses and resident > RELEASE_ABOVE_BYTES)


def _resident_bytes() -> int:
    """This process's resident set (Linux ``/proc/self/statm``; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _release_compiled_programs_now():
    from collapse_jax.engine import batch

    batch.clear_caches()
    gc.collect()
    _return_freed_memory()


def _glibc_malloc_trim():
    """glibc's ``malloc_trim``, or ``None`` where the C library is not glibc."""
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


_MALLOC_TRIM = _glibc_malloc_trim()


def _return_freed_memory():
    """Hand the heap pages freed so far back to the system (glibc's ``malloc_trim``; a no-op
    elsewhere). Without it a worker's resident set only ratchets up: measured on 2026-12-04,
    a worker kept 2.0-2.1 GB resident between modules after the first heavy ones (1.34 GB
    after ``tests/vae/test_check.py`` alone), and with it 0.54 GB; the modules took the
    same time."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)
