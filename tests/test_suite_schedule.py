"""The default suite's scheduling (tests/conftest.py): the long modules first, each xdist
worker pinned to its own share of the cores."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import LONG_MODULES, pytest_collection_modifyitems

ROOT = Path(__file__).resolve().parent.parent


def test_every_long_module_exists_once():
    """A renamed or removed module would silently drop out of the order."""
    assert len(set(LONG_MODULES)) == len(LONG_MODULES)
    for m in LONG_MODULES:
        assert (ROOT / m).is_file(), m


class _Item:
    def __init__(self, nodeid):
        self.nodeid = nodeid


def test_long_modules_first_then_by_test_count_each_module_in_its_order():
    names = ["tests/a.py::t1", "tests/b.py::t1", "tests/b.py::t2", LONG_MODULES[1] + "::x",
             "tests/c.py::t1", LONG_MODULES[0] + "::y", "tests/c.py::t2", "tests/c.py::t3",
             LONG_MODULES[1] + "::w"]
    items = [_Item(n) for n in names]
    pytest_collection_modifyitems(None, items)
    assert [i.nodeid for i in items] == [
        LONG_MODULES[0] + "::y", LONG_MODULES[1] + "::x", LONG_MODULES[1] + "::w",
        "tests/c.py::t1", "tests/c.py::t2", "tests/c.py::t3", "tests/b.py::t1",
        "tests/b.py::t2", "tests/a.py::t1"]


_PIN = """
import importlib.util, json, os, sys
spec = importlib.util.spec_from_file_location("suite_conftest", sys.argv[1])
conftest = importlib.util.module_from_spec(spec)
spec.loader.exec_module(conftest)
before = sorted(os.sched_getaffinity(0))
conftest._pin_worker_to_its_cores()
print(json.dumps([before, sorted(os.sched_getaffinity(0))]))
"""


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity here")
@pytest.mark.parametrize(("worker", "count"), [("gw0", "2"), ("gw1", "2"), ("gw2", "3"),
                                               ("gw0", "1"), (None, None)])
def test_each_worker_is_pinned_to_its_share_of_the_cores(worker, count):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST_WORKER")}
    if worker:
        env.update(PYTEST_XDIST_WORKER=worker, PYTEST_XDIST_WORKER_COUNT=count)
    r = subprocess.run([sys.executable, "-c", _PIN, str(ROOT / "tests" / "conftest.py")],
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    before, after = json.loads(r.stdout)
    if worker and int(count) > 1 and len(before) >= int(count):
        assert after == before[int(worker[2:]):: int(count)]
    else:  # one worker, not a worker, or fewer cores than workers: left as it was
        assert after == before
