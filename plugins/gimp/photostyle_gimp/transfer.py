"""The procedures' runs: capture the job, let the daemon restyle it with GIMP's progress bar
showing the way, check the answer, then write it (the image is untouched until then). With
"look-file" set, the daemon also sends the result's look, written to that file first: a look that
cannot be written leaves the image as it was. The frames procedure sends every layer as one
sequence and writes the styled frames only once all of them are in and checked.

GIMP's progress bar's Cancel kills the plug-in: the daemon drops the job when the connection
goes, and the image has not been touched."""

from __future__ import annotations

from typing import Callable

from gi.repository import Gimp

from photostyle.server.client import (DaemonError, Event, Progress, Queued, SequenceEvent, SequencePlanned,
                                      check_result, kept_look, saved_look_path, status_text, styled_sequence,
                                      with_look, write_look)

from . import connect_daemon, layers
from .capture import capture, capture_frames
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
        result = job.start(client, options).result(on_event=_progress("Photo Style Transfer"))
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


def transfer_frames(image: Gimp.Image, config: Gimp.ProcedureConfig, show: bool) -> Gimp.Image | None:
    """Every layer of `image` styled as one sequence, as new layers, or with "new-image" as the
    layers of a new image (returned; `show`: in a new display); raises instead of touching the image."""
    title = "Photo Style Transfer (frames)"
    options = options_from_config(config)
    Gimp.progress_init(f"{title}: reading the frames")
    job = capture_frames(image, config)
    Gimp.progress_set_text(f"{title}: connecting to the PhotoStyle engine")
    with connect_daemon(on_wait=lambda seconds: Gimp.progress_pulse()) as client:
        sequence = styled_sequence(job.start(client, options), job.frames, _progress(title))
    made = layers.new_image_of_frames(job, sequence, show) if config.get_property("new-image") else None
    if made is None:
        layers.add_styled_frames(job, sequence)
    for note in sequence.done.notes:
        Gimp.message(f"{title}: {note}")
    return made


def _progress(title: str) -> Callable[[Event | SequenceEvent], None]:
    """GIMP's progress bar following a job's events, under `title`."""

    def show(event: Event | SequenceEvent) -> None:
        if isinstance(event, (Queued, Progress)):
            Gimp.progress_set_text(f"{title}: {status_text(event)}")
        if isinstance(event, Progress):
            Gimp.progress_update(min(event.fraction, 0.99))  # 100 % only once the layers are there
        if isinstance(event, SequencePlanned):
            Gimp.progress_set_text(f"{title}: looks fitted on frame(s) {', '.join(map(str, event.keyframes))}, "
                                   "then carried to every frame")

    return show
