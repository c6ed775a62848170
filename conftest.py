"""Root conftest: the devstack fixtures (infra, unique_prefix, service_process) for every test.

See tools/devstack/src/broadsheet_devstack/pytest_plugin.py.
"""

pytest_plugins = ["broadsheet_devstack.pytest_plugin"]
