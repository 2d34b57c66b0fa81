"""scanstation: follow every serial number from the plant to the godown and beyond."""

__version__ = "0.1.0"
