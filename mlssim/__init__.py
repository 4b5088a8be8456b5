"""mlssim: measure federated MLS designs with real RFC 9420 bytes."""

__version__ = "0.1.0"
__all__ = ["__version__"]
