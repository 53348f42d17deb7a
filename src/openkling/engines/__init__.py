"""Video and audio engines: turn a render request into frames or samples; no I/O of tasks."""
