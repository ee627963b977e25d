"""PhotoStyle for Krita 5: the "Photo Style" docker (Settings ▸ Dockers ▸ Photo Style).

A thin adapter: the style transfer runs in the PhotoStyle daemon. The installer copies the
client library (the `photostyle` package: `photostyle.server.client` with its daemon launcher and
`photostyle.server.wire`) into this folder; like the GIMP
plug-in, we put the folder on sys.path to import it.
"""

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(_HERE / "vendor"), str(_HERE)]  # vendor/: grpcio/protobuf, when the installer provided them

from krita import DockWidgetFactory, DockWidgetFactoryBase, Krita  # noqa: E402

from .docker import DOCKER_ID, PhotoStyleDocker  # noqa: E402

Krita.instance().addDockWidgetFactory(DockWidgetFactory(DOCKER_ID, DockWidgetFactoryBase.DockRight, PhotoStyleDocker))
