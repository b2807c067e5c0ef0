"""Prefect flows and thin tasks. Importing this package sets quiet, offline defaults for Prefect and
Hugging Face (each can be overridden in the environment).

``nightly`` and ``retrain`` (flows), ``tasks`` (3-10 line wrappers), ``runners``, ``deploy``, ``ops``,
``progress``, ``cli/`` (the command). May import everything; nothing imports ``flows``.
"""

import os

_DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "PREFECT_SERVER_LOGGING_LEVEL": "CRITICAL",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "PREFECT_LOGGING_LOG_PRINTS": "false",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}
for _k, _v in _DEFAULTS.items():
    os.environ.setdefault(_k, _v)
