"""The floor every stage stands on (``data_prep``, ``onegan``, ``baselines``, ``benchmark`` import it;
it imports none of them): the method contract (``core.contract``: ``TrainRequest``, ``Method``,
``Clusters``), user-facing errors, atomic writes and crash-safe JSON lines, advisory locks,
data-only checkpoint loading, and provenance."""
