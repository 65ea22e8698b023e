"""The domain state. Importing any of it registers the pickle extension codes of its
compact classes (``state.compact``), so a process can load such pickles before it has
imported the class's own module."""

from state import compact as _compact  # noqa: F401  (registers the copyreg extension codes)
