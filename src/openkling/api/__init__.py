"""The HTTP edge: FastAPI app, auth, request validation and the Kling envelope."""
