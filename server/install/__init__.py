"""`photostyle plugins install|uninstall gimp|krita`: put a plug-in, the client library it needs and
the host Python's grpcio/protobuf (when it lacks them) into GIMP's or Krita's plug-in folder."""
