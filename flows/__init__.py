"""The flows: Bytewax wiring, Kafka, metrics, the runner.

Importing any of it imports ``store`` first, which registers how every domain object pickles
(``store.picklers``): Bytewax pickles snapshots and the items exchanged between workers in
every process that runs a flow, and they must pickle, and load, the same compact way there.
"""

import store  # noqa: F401  (registers the domain reductions and extension codes before any pickling)
