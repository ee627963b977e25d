"""The GIMP 3 plug-in (gimp/) and the Krita 5 docker (krita/), shipped as package data.

Nothing here is imported by photostyle: `photostyle plugins install` copies these files into
the host's plug-in folder, where the host's own Python runs them. This file only makes the
folder the package `photostyle.plugins`, so the installers find the files the same way in an
editable install and in one from the wheel.
"""
