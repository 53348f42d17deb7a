"""Tests of the scaled layout against real PostgreSQL, Redis and an S3 endpoint."""
