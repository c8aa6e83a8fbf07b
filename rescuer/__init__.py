"""Rescuer core: DR logic in plain Python, shared by the Heat and Mistral
adapters.  Nothing here imports Heat or Mistral."""
