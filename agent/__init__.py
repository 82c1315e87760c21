"""glm-agent: a command-line coding agent built for GLM 4.7."""

__version__ = "0.1.0"
