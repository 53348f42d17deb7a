"""The domain: model names and catalog, the normalised request, task status and result."""
