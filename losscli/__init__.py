"""losscli: a command-line loss calculator and gradient inspector."""

__version__ = "0.1.0"
