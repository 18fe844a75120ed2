"""The `commcredits` command line (`main.py` puts the sub-commands together; `common.py`
holds what they share: the runtime, the JSON output and the one error translation)."""

from .main import app

__all__ = ["app"]
