import shutil

import pytest
from hypothesis import HealthCheck, settings

# One moto_server for the whole session (store contract and cloud tests).
from tests.support.moto import moto_url

__all__ = ["moto_url"]


def pytest_collection_modifyitems(config, items):
    """Tests marked integration need Mosquitto; say so clearly when it is missing."""
    if shutil.which("mosquitto") or shutil.which("/usr/sbin/mosquitto"):
        return
    skip = pytest.mark.skip(reason="mosquitto is not installed (make test installs it)")
    for item in items:
        if "integration" in item.keywords:
            item.add_marker(skip)


# These machines are shared and noisy: judge property tests by their examples,
# not by how long one example took.
settings.register_profile("edgechat", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("edgechat")
