"""bdcwatch: supervision engine for real-estate registration (不动产登记) in Yangquan."""

__version__ = "0.1.0"
