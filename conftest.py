"""Root conftest: the devstack fixtures (infra, unique_prefix, service_process) for every test,
and how `make test` shares the suite between its pytest-xdist workers.

See tools/devstack/src/broadsheet_devstack/pytest_plugin.py.
"""

from __future__ import annotations

import pytest

pytest_plugins = ["broadsheet_devstack.pytest_plugin"]

_SERVER_MARKERS = ("integration", "e2e", "browser")


def _weight(item: pytest.Item) -> int:
    """Longest first: the end-to-end group, the contract runs, modules that start servers, then
    the unit tests, which fill the workers' last minutes."""
    group = item.get_closest_marker("xdist_group")
    if group is not None and group.args[0] == "e2e":
        return 0
    if group is not None and group.args[0] == "e2e-contract":
        return 1
    return 2 if any(item.get_closest_marker(name) for name in _SERVER_MARKERS) else 3


@pytest.hookimpl(trylast=True)  # after tests/e2e/conftest.py grouped its own tests
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under ``--dist loadgroup`` a worker takes a whole group: one group per module (unless a
    conftest chose one), so a module's fixtures (an app, a service, a browser) start on one
    worker only. A worker hands out the groups in collection order (``make test`` passes
    ``--no-loadscope-reorder``), so there the longest come first."""
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            module = item.path.relative_to(config.rootpath).as_posix()
            item.add_marker(pytest.mark.xdist_group(module))
    if hasattr(config, "workerinput"):  # an xdist worker
        items.sort(key=_weight)  # stable: each group keeps its order
