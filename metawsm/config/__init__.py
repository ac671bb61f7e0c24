"""Configuration: YAML with locations, JSON Schema validation, typed frozen models."""
