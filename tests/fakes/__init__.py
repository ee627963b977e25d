"""Fakes of what the plug-ins' logic talks to: a daemon client, a host's event loop, a host."""

from .client import FakeCall, FakeClient, Script, capabilities, connector, painted
from .host import FakeHost, FakeLoop

__all__ = ["FakeCall", "FakeClient", "FakeHost", "FakeLoop", "Script", "capabilities", "connector", "painted"]
