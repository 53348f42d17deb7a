"""The OpenAI video API's wire format: request parsing, the video object, errors."""
