"""bdcwatch: supervision engine for real-estate registration (不动产登记) in Yangquan."""

from bdcwatch.safe_text import install_log_guard

__version__ = "0.1.0"

# Every log line of the engine is masked and free of control characters (CONTRACT §5, §6),
# whichever module writes it: installed once, on the first import of the package.
install_log_guard()
