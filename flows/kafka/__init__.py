"""familycard's Kafka clients, one module per concern.

- ``source``: ``AlignedKafkaSource``, every input partition as one stream in event-date order
  (the consumer shell; the order itself is ``release``'s);
- ``release``: ``ReleaseBuffer``, the broker-free merge of per-partition buffers (and
  ``sort_key``, the release order);
- ``sink``: ``KafkaTopicSink``, batched asynchronous writing, and ``KafkaDeliveryError``;
- ``exactly_once``: ``IdempotentKafkaSink``, output topics with exactly-once effect;
- ``admin``: topics (``ensure_topics``, ``topics_holding_records``) and whole-topic helpers
  (``read_topic``, ``produce_all``) for the CLI, the scheduler, benchmarks and tests;
- ``config``: ``KafkaConfig``, how familycard reaches a cluster;
- ``clients``: what every client shares (bootstrap, logging, producer settings);
- ``flow``: the dataflow between the contract's topics, and ``run_kafka`` (live mode);
- ``citizens``: the simulated citizens answering offers on ``sms.replies``.

Nothing is re-exported here, so importing ``flows.kafka.release`` loads no client library.
"""
