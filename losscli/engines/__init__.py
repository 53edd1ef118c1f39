"""Engines that run the same losses elsewhere than in this process.

The single-machine path (reading files whole or a chunk of rows at a time) lives in
:mod:`losscli.app`; an engine here evaluates the same losses, through the same core
(:func:`losscli.core.evaluate_chunks`, :func:`losscli.core.chunk_gradients`) and the same
health accumulator (:class:`losscli.diagnose.HealthAccumulator`), over data spread across
partitions, and returns the dataclasses :mod:`losscli.app` returns so that rendering is the same.

* :mod:`losscli.engines.dask_engine`: ``--engine dask``, a Parquet dataset on a
  ``dask.distributed`` cluster (an optional extra: ``pip install 'losscli[dask]'``).

Importing this package imports nothing heavy: each engine imports its framework when it runs.
"""

from __future__ import annotations

ENGINES = ("local", "dask")
