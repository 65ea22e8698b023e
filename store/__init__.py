"""Storage: how the domain's objects are pickled, and the files that keep them.

- ``store.compact``: compact reductions for slots dataclasses (registered in copyreg's
  dispatch table, from outside the classes) and the small encodings they use;
- ``store.picklers``: which domain class pickles how, and the copyreg extension codes;
- ``store.safe_load``: unpickling stored state without running code;
- ``store.seed``: seeds, the state a bulk load built (``familycard load``);
- ``store.private``: owner-only files and directories (seeds, recovery directories).

``store`` may import ``state`` and ``rules`` (it knows the domain classes); ``state`` and
``rules`` import nothing of it. Importing ``store`` (any of it) registers every domain
class's reduction and the extension codes, so whoever pickles or unpickles domain objects
must import it first: ``flows/__init__.py`` does, for everything that builds or runs a flow.
"""

from store import picklers as _picklers  # noqa: F401  (registers the reductions and extension codes)
