"""Hand task ids to workers: in-process thread pool, or Celery queues (one per model)."""
