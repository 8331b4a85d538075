import shutil

import pytest


def pytest_collection_modifyitems(config, items):
    """Tests marked integration need Mosquitto; say so clearly when it is missing."""
    if shutil.which("mosquitto") or shutil.which("/usr/sbin/mosquitto"):
        return
    skip = pytest.mark.skip(reason="mosquitto is not installed (make test installs it)")
    for item in items:
        if "integration" in item.keywords:
            item.add_marker(skip)
