"""cxstream: PyFlink stream analytics for real-time customer experience."""

__version__ = "0.1.0"
