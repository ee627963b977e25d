"""The engine daemon: a gRPC server with the PhotoStyle service, health checking and reflection.

It listens on 127.0.0.1 unless told otherwise; any other address needs a shared token (and
should have TLS), so a studio can share a GPU box without opening it to everyone.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import socket
import ssl
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from photostyle.core import OptionsError, WeightsError
from photostyle.core.images import MAX_PIXELS, MIN_SIDE
from photostyle.core.options import MAX_OPTION, MIN_WORKING_SIDE
from photostyle.server.wire.contract import DEFAULT_PORT, SERVICE, clean_token

from .auth import TokenInterceptor
from .calls import CallLimits
from .engine import Engine
from .scheduler import DeviceLine
from .service import PhotoStyleService
from .validation import Limits

log = logging.getLogger("photostyle.daemon")

#: Server threads beyond one per call slot (Limits.max_calls: transfers and reflection streams, see
#: calls.py): health checks, capabilities and refusals when the slots are full always find one.
_SPARE_THREADS = 8


class ConfigError(Exception):
    """A daemon setting that cannot work; the message says what to change."""


@dataclass(frozen=True)
class DaemonConfig:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT  # 0 = any free port (see Daemon.port once started)
    device: str = "auto"
    weights: str | None = None
    token: str | None = None
    tls_cert: bytes | None = None  # PEM
    tls_key: bytes | None = None  # PEM
    limits: Limits = field(default_factory=Limits)
    shutdown_grace: float = 10.0  # seconds a running job may take to finish on shutdown

    def check(self) -> None:
        """ConfigError naming the `serve` option to change, for any setting that cannot work.

        Cheap (no model, no socket), so `serve` refuses bad settings at once rather than after
        loading the model, or starting and then refusing every job.
        """
        if not is_loopback(self.host) and not self.token:
            raise ConfigError(f"Listening on {self.host} makes the daemon reachable from the network; give it a "
                              "shared token (--token-file, --token or PHOTOSTYLE_TOKEN), and TLS (--tls-cert and "
                              "--tls-key) so the token does not travel in clear text.")
        limits = self.limits
        _check_whole("--port", self.port, 0, 65535, "; 0 picks any free port")
        _check_whole("--max-pixels", limits.max_pixels, MIN_SIDE * MIN_SIDE, MAX_PIXELS,
                     f"; the engine takes images from {MIN_SIDE}×{MIN_SIDE} px up to the largest its image readers "
                     "decode safely")
        _check_whole("--max-jobs", limits.max_jobs, 1, MAX_OPTION)
        _check_whole("--max-regions", limits.max_regions, 1, MAX_OPTION)
        _check_whole("--max-frames", limits.max_frames, 1, MAX_OPTION)
        _check_whole("--max-calls", limits.max_calls, limits.max_jobs, MAX_OPTION,
                     "; every job in line (--max-jobs) holds a call")
        _check_whole("--max-working-size", limits.max_working_size, MIN_WORKING_SIDE, MAX_OPTION,
                     f"; the engine's smallest working size is {MIN_WORKING_SIDE} px")
        _check_seconds("--upload-idle", limits.upload_idle_s)
        _check_seconds("--setup-timeout", limits.setup_timeout_s)
        _check_seconds("--shutdown-grace", self.shutdown_grace, zero_ok=True)
        if self.token:
            try:
                clean_token(self.token)
            except ValueError as exc:
                raise ConfigError(f"The daemon's token: {exc}") from None
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigError("TLS needs both a certificate (--tls-cert) and its private key (--tls-key).")
        if self.tls_cert is not None:
            _check_tls(self.tls_cert, self.tls_key)


def _check_whole(option: str, value: int, low: int, high: int, why: str = "") -> None:
    if not low <= value <= high:
        raise ConfigError(f"{option} must be {low} to {high} (got {value}){why}.")


def _check_seconds(option: str, value: float, zero_ok: bool = False) -> None:
    if not (math.isfinite(value) and (value >= 0 if zero_ok else value > 0)):
        raise ConfigError(f"{option} must be {'0 or more' if zero_ok else 'a positive number of'} seconds "
                          f"(got {value}).")


def _check_tls(cert: bytes, key: bytes) -> None:
    """ConfigError unless `cert` is a PEM certificate (chain) and `key` its unencrypted PEM private key.

    gRPC finds out only when binding, and then fails as it does for a port in use. Python's ssl
    loads the pair as gRPC does, but from files: a private folder, removed at once.
    """
    fix = "Give the certificate (chain) and the private key it was made for, both PEM (-----BEGIN ...)."
    try:
        if b"-----BEGIN CERTIFICATE-----" not in cert:  # an empty cadata would pass the load below
            raise ssl.SSLError("no certificate")
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cadata=cert.decode("ascii"))
    except (UnicodeDecodeError, ssl.SSLError):
        raise ConfigError(f"--tls-cert is not a valid PEM certificate. {fix}") from None
    with tempfile.TemporaryDirectory(prefix="photostyle-tls-") as folder:
        cert_file, key_file = Path(folder, "cert.pem"), Path(folder, "key.pem")
        cert_file.write_bytes(cert)
        key_file.write_bytes(key)
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert_file, key_file, password=lambda: b"")
        except ssl.SSLError as exc:
            problem = ("is not the key of --tls-cert's certificate" if exc.reason == "KEY_VALUES_MISMATCH"
                       else "is not a valid unencrypted PEM private key")
            raise ConfigError(f"--tls-key {problem}. {fix}") from None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Daemon:
    """Start with `start()` (warms the model, then listens); `stop()` shuts down gracefully."""

    def __init__(self, config: DaemonConfig, engine: Engine | None = None) -> None:
        """`engine` defaults to photostyle.core on `config.device`; the transport benchmark passes
        a stand-in that returns the content untouched, to time everything but the engine."""
        config.check()
        self.config = config
        try:
            self._engine = engine or Engine(config.device, config.weights)
        except OptionsError as exc:
            raise ConfigError(str(exc)) from None
        self._line = DeviceLine(self._engine.run, config.limits.max_jobs)
        self._health = health.HealthServicer(experimental_non_blocking=True)  # a watch holds no thread
        self._server: grpc.Server | None = None
        self.port = config.port

    @property
    def address(self) -> str:
        host = f"[{self.config.host}]" if ":" in self.config.host else self.config.host
        return f"{host}:{self.port}"

    def start(self) -> None:
        """Warm the model on the device, then listen. ConfigError if either fails."""
        config, limits = self.config, self.config.limits
        try:
            warm_seconds = self._engine.warm()
        except WeightsError as exc:
            raise ConfigError(str(exc)) from None
        server = grpc.server(
            ThreadPoolExecutor(max_workers=limits.max_calls + _SPARE_THREADS, thread_name_prefix="photostyle-rpc"),
            interceptors=[*([TokenInterceptor(config.token)] if config.token else []), CallLimits(limits)],
            options=[
                ("grpc.max_receive_message_length", limits.max_message_bytes),
                ("grpc.max_send_message_length", limits.max_message_bytes),
                ("grpc.keepalive_time_ms", 60_000),  # notice clients that vanished mid-job
                ("grpc.keepalive_timeout_ms", 20_000),
                ("grpc.http2.min_ping_interval_without_data_ms", 10_000),  # accept clients' 30 s pings
                ("grpc.keepalive_permit_without_calls", 1),
                ("grpc.so_reuseport", 0),  # a second daemon on the same port must fail, not share it
            ])
        self.port = self._bind(server)
        server.add_generic_rpc_handlers((PhotoStyleService(
            self._engine, self._line, limits, f"{socket.gethostname()}:{self.port}").handler(),))
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        reflection.enable_server_reflection((SERVICE, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
        self._line.start()
        server.start()
        self._server = server
        self._health.set(SERVICE, health_pb2.HealthCheckResponse.SERVING)
        if not is_loopback(config.host) and config.tls_cert is None:
            log.warning("Listening on %s without TLS: the token and the images travel in clear text.", config.host)
        log.info("PhotoStyle daemon ready on %s (device %s, model warmed in %.1f s, %s, up to %d jobs and %d calls)",
                 self.address, self._engine.device_name, warm_seconds, "TLS" if config.tls_cert else "no TLS",
                 limits.max_jobs, limits.max_calls)

    def _bind(self, server: grpc.Server) -> int:
        address = self.address
        try:
            if self.config.tls_cert is not None:
                credentials = grpc.ssl_server_credentials([(self.config.tls_key, self.config.tls_cert)])
                port = server.add_secure_port(address, credentials)
            else:
                port = server.add_insecure_port(address)
        except RuntimeError:
            port = 0
        if not port:
            raise ConfigError(f"Cannot listen on {address}: the port is in use (another daemon?) or the address is "
                              "not this machine's. Choose another --port or --host.")
        return port

    def stop(self, grace: float | None = None) -> None:
        """Refuse new calls, end waiting jobs, give the running one `grace` seconds, then stop it."""
        if self._server is None:
            return
        grace = self.config.shutdown_grace if grace is None else grace
        log.info("Shutting down: %d job(s) in line; the running one gets %.0f s to finish.", len(self._line), grace)
        self._health.enter_graceful_shutdown()
        stopped = self._server.stop(grace + 5.0)  # new calls are refused from now on
        self._line.close(grace)
        stopped.wait(grace + 10.0)
        self._server = None
        log.info("PhotoStyle daemon stopped.")
