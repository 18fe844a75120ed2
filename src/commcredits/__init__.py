"""commcredits: prepaid Communications Credits for telephony providers."""

__version__ = "0.1.0"
