"""PhotoStyle's engine daemon (`photostyle serve`): the gRPC service the plug-ins and the CLI use.

    daemon = Daemon(DaemonConfig(port=0)); daemon.start(); ...; daemon.stop()

One job runs at a time on the device; others wait in a FIFO line and are told their position.
See proto/photostyle/v1/photostyle.proto for the contract.
"""

from .server import ConfigError, Daemon, DaemonConfig
from .validation import Limits

__all__ = ["ConfigError", "Daemon", "DaemonConfig", "Limits"]
