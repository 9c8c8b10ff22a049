"""One error family for everything a user can cause, and one type for our own bugs.

Every ``InspectorError`` carries a message a user can act on: it names the file, tensor or
node and the bad value. Pages, the CLI and notebooks show ``str(error)`` as is. Anything
that is not an ``InspectorError`` reaching a user is a bug in this package.
"""

from __future__ import annotations


class InspectorError(Exception):
    """Base class for problems with the user's input (files, options, models)."""

    #: Short machine-readable category, also used as the CLI's JSON ``error.kind``.
    kind = "error"


class ModelLoadError(InspectorError):
    """The bytes given as a model cannot be read as an ONNX model."""

    kind = "model_load"


class LimitExceededError(InspectorError):
    """An input is over one of the documented limits in :mod:`inspector.limits`."""

    kind = "limit"


class CompanionFileError(InspectorError):
    """A companion (external-data) file is unusable: bad name, unreadable, refused."""

    kind = "companion_file"


class NotFoundError(InspectorError):
    """A named tensor, node or subgraph does not exist in the model."""

    kind = "not_found"
