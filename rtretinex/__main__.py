"""``python -m rtretinex``: the ``rtretinex`` command, for an environment whose scripts
folder is not on the PATH."""

from .cli import entry_point

entry_point()
