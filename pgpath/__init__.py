"""pgpath: audit, change and roll back PostgreSQL search_path settings."""

from .errors import ExitCode, PgpathError
from .searchpath import SearchPath

__version__ = "0.1.0"
__all__ = ["ExitCode", "PgpathError", "SearchPath", "__version__"]
