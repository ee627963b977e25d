"""The `photostyle` command line: `transfer`, `demo`, `serve` and `plugins`, thin shells over the
engine (photostyle.core), the daemon (photostyle.server.daemon) and the installers
(photostyle.server.install). Its entry point is `entry.main`."""
