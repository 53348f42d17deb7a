"""Task lifecycle, credits, limits and the callbacks outbox (the business layer)."""
