"""The procedure's run: capture the job, let the daemon restyle it with GIMP's progress bar
showing the way, check the answer, then write it (the image is untouched until then). With
"look-file" set, the daemon also sends the result's look, written to that file first: a look that
cannot be written leaves the image as it was."""

from __future__ import annotations

from gi.repository import Gimp

from photostyle.server.client import (DaemonError, Event, Progress, Queued, check_result, kept_look, saved_look_path,
                                      status_text, with_look, write_look)

from . import connect_daemon, layers
from .capture import capture
from .looks import file_path
from .options import options_from_config


def transfer(image: Gimp.Image, layer: Gimp.Layer, config: Gimp.ProcedureConfig) -> None:
    """Everything between the arguments and the new layer; raises instead of touching the image."""
    look_file = file_path(config, "look-file")
    options = options_from_config(config)
    if look_file is not None:
        look_file = saved_look_path(look_file)  # a wrong name is refused before the job, not after it
        options = with_look(options)
    Gimp.progress_init("Photo Style Transfer: reading pixels")
    job = capture(image, layer, config)
    Gimp.progress_set_text("Photo Style Transfer: connecting to the PhotoStyle engine")
    with connect_daemon(on_wait=lambda seconds: Gimp.progress_pulse()) as client:
        result = job.start(client, options).result(on_event=_show_progress)
    check_result(result, job.content, job.style_size)
    if look_file is not None:
        look = kept_look(result, job.reference_name)
        if look is None:
            raise DaemonError("The daemon returned no look with the result: it predates looks. Update PhotoStyle "
                              "where the daemon runs; nothing was changed.")
        write_look(look, look_file)
    layers.add_result(job, result)
    for note in result.notes:
        Gimp.message(f"Photo Style Transfer: {note}")


def _show_progress(event: Event) -> None:
    if isinstance(event, (Queued, Progress)):
        Gimp.progress_set_text(f"Photo Style Transfer: {status_text(event)}")
    if isinstance(event, Progress):
        Gimp.progress_update(min(event.fraction, 0.99))  # 100 % only once the layer is there
