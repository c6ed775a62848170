"""Root conftest: the devstack fixtures (infra, unique_prefix, service_process) for every test,
and how `make test` shares the suite between its pytest-xdist workers.

See tools/devstack/src/broadsheet_devstack/pytest_plugin.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["broadsheet_devstack.pytest_plugin"]

E2E = Path(__file__).parent / "tests" / "e2e"
CONTRACT = E2E / "test_api_contract.py"
_SERVER_MARKERS = ("integration", "e2e", "browser")


def _group(item: pytest.Item) -> str:
    """The end-to-end tests share one platform (tests/e2e/conftest.py): one group. The contract
    runs are another, on a platform of their own, so the suite's two longest parts overlap.
    Every other module is its own group, so its fixtures start on one worker only."""
    if item.path == CONTRACT:
        return "e2e-contract"
    if item.path.parent == E2E:
        return "e2e"
    return item.path.relative_to(item.config.rootpath).as_posix()


def _weight(item: pytest.Item) -> int:
    """Longest first: the end-to-end tests, the contract runs, modules that start servers, then
    the unit tests, which fill the workers' last minutes."""
    if item.path.parent == E2E:
        return 1 if item.path == CONTRACT else 0
    servers = "infra" in getattr(item, "fixturenames", ())
    return 2 if servers or any(item.get_closest_marker(m) for m in _SERVER_MARKERS) else 3


def pytest_itemcollected(item: pytest.Item) -> None:
    # Before any pytest_collection_modifyitems: xdist reads the groups in its own.
    item.add_marker(pytest.mark.xdist_group(_group(item)))


@pytest.hookimpl(trylast=True)  # after tests/e2e/conftest.py put the contract runs last
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """An xdist worker under ``--dist loadgroup --no-loadscope-reorder`` (`make test`) hands
    out whole groups in collection order: there the longest go first."""
    if hasattr(config, "workerinput"):
        items.sort(key=_weight)  # stable: each group keeps its order
