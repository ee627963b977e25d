"""The procedure's run: capture the job, let the daemon restyle it with GIMP's progress bar
showing the way, check the answer, then write it (the image is untouched until then)."""

from __future__ import annotations

from gi.repository import Gimp

from photostyle.server.client import Event, Progress, Queued, check_result, status_text

from . import connect_daemon, layers
from .capture import capture
from .options import options_from_config


def transfer(image: Gimp.Image, layer: Gimp.Layer, config: Gimp.ProcedureConfig) -> None:
    """Everything between the arguments and the new layer; raises instead of touching the image."""
    Gimp.progress_init("Photo Style Transfer: reading pixels")
    job = capture(image, layer, config)
    Gimp.progress_set_text("Photo Style Transfer: connecting to the PhotoStyle engine")
    with connect_daemon(on_wait=lambda seconds: Gimp.progress_pulse()) as client:
        result = job.start(client, options_from_config(config)).result(on_event=_show_progress)
    check_result(result, job.content, job.style_size)
    layers.add_result(job, result)
    for note in result.notes:
        Gimp.message(f"Photo Style Transfer: {note}")


def _show_progress(event: Event) -> None:
    if isinstance(event, (Queued, Progress)):
        Gimp.progress_set_text(f"Photo Style Transfer: {status_text(event)}")
    if isinstance(event, Progress):
        Gimp.progress_update(min(event.fraction, 0.99))  # 100 % only once the layer is there
