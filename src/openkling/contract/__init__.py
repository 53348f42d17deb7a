"""Wire formats, one package per API generation: kling (legacy), openai; shared field readers."""
