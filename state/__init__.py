"""The domain state: plain dataclasses and the pure functions that evolve them. How they are
pickled and stored is ``store``'s business, not theirs (``store.picklers``)."""
