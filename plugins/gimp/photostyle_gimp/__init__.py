"""PhotoStyle for GIMP 3, beside its entry file photostyle.py (registration only).

A thin adapter between GIMP and the PhotoStyle daemon, over the client library the installer
vendors beside it (`photostyle.server.client`, whose `Controller` runs the dialog's previews):
`capture` reads the image into a job (one path for the procedure's run and the dialog's
preview), `pixels` and `regions` read layers and channels, `layers` writes a result back,
`transfer` is the procedure's run, `options` the engine options as procedure arguments, and
`dialog` with `preview` the Gtk dialog. The image is never modified before a result is checked.
"""

from pathlib import Path
from typing import Callable

#: The installed plug-in's folder: the installer's daemon config (photostyle-daemon.json) lives here.
PLUGIN_DIR = Path(__file__).resolve().parent.parent


def connect_daemon(start: bool = True, on_wait: Callable[[float], None] = lambda seconds: None):
    """A client of the daemon this plug-in was installed with (started first if none answers and
    `start` allows). Raises DaemonUnavailableError, whose text says what to run, when none can be had."""
    from photostyle.server.client.launch import DaemonConfig, connect  # needs grpc: not at registration

    return connect(DaemonConfig.load(PLUGIN_DIR), on_wait, start=start)
