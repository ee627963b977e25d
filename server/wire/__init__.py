"""The contract between the daemon and its clients: the generated protobuf messages, the
method paths and sizes both sides use, the error kinds, images and their chunks, and options.

Imported by both `photostyle.server.daemon` and `photostyle.server.client`, and shipped with the
client into the GIMP and Krita plug-ins (all but `arrays`, which needs numpy): it needs only
grpcio and protobuf.
"""
