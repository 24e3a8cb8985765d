"""Fakes of external systems that tests talk to over real sockets."""

from tests.fakes.cms import Call, FakeCms

__all__ = ["Call", "FakeCms"]
