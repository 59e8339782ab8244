"""Runs beyond one process: the engine as a Ray Data pipeline (optional extra ``.[ray]``).

:func:`~clustering.distributed.ray_run.ingest_ray` executes :meth:`clustering.NewsClusterer.ingest`
over Arrow batches on a local or existing Ray cluster, with the same near-duplicate rules and
the same store schema. Importing this package does not import Ray.
"""

from clustering.distributed.ray_run import RayOptions, ingest_ray

__all__ = ["RayOptions", "ingest_ray"]
