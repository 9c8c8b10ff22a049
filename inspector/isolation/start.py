"""The first code of every isolated child: ``python -I start.py MODULE FUNCTION ARGS``.

``-I`` keeps the child's ``sys.path`` free of the caller's choices — no PYTHONPATH, no user site,
not the current folder, not even this file's folder — so nothing tells it where this package
lives. This file, run by its path, knows: it puts the folder holding ``inspector/`` first on
``sys.path`` (first, so the tree that started the child is the one it runs, even beside another
installed copy), imports MODULE, takes the folder off ``sys.path`` again and calls
``MODULE.FUNCTION(*json.loads(ARGS))``.

Taking the folder off matters to a child that confines itself: the sandbox grants read access to
every ``sys.path`` entry (:func:`inspector.isolation.sandbox.read_paths_for_python`), and in a
plain checkout that folder holds the whole app and its configuration (``.streamlit/``, where a
deployment keeps its secrets). The
package's own submodules still import afterwards, through ``inspector.__path__``, until the
confinement hides them: a confined child imports what it needs before it confines itself.

Only the standard library is imported here, and nothing of the caller's is inherited.
"""

from __future__ import annotations

import importlib
import json
import os
import sys


def main(argv: list[str]) -> None:
    """Import ``argv[0]`` with this package on ``sys.path``, then call its ``argv[1]`` with the
    JSON list ``argv[2]`` as arguments."""
    module, function, args = argv[0], argv[1], json.loads(argv[2])
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
    sys.path.insert(0, root)
    try:
        target = importlib.import_module(module)
    finally:
        sys.path.remove(root)
    getattr(target, function)(*args)


if __name__ == "__main__":
    main(sys.argv[1:])
