"""tosguard: check ML data pipelines against AI providers' terms of service.

The library API (what the CLI and the HTTP service both call) lives in :mod:`tosguard.api`.
"""

__version__ = "0.1.0"
