from tests.support.moto import moto_url

__all__ = ["moto_url"]
