"""Mistral adapter: mistral-lib actions over the Rescuer core."""
