"""Logging of the server: secrets in URLs never reach the access log.

An invitation or reset link carries its secret in the path (``/invite/<secret>``), and a
URL may carry one in its query (``?token=…``); the access log would keep them for anyone
who reads the logs. ``RedactSecrets`` rewrites every record of the loggers it is on, and
``log_config()`` is uvicorn's own logging configuration with it on ``uvicorn.access``
(``serve`` passes it to uvicorn, so every worker process gets it).
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

from uvicorn.config import LOGGING_CONFIG

__all__ = ["REDACTED", "RedactSecrets", "log_config", "redact"]

REDACTED = "[redacted]"

# /invite/<secret>, also percent-encoded inside another parameter (?next=%2Finvite%2F…)
_SECRET_PATH = re.compile(r"(?i)((?:/|%2F)invite(?:/|%2F))[^/?#&\s%]+")
# ?token=…, &access_token=…, ?password=… (names as sent, encoded or not)
_SECRET_QUERY = re.compile(
    r"(?i)([?&](?:[a-z_]*token|secret|password|passwd|api_key|key|code|sig|signature)=)"
    r"[^&#\s]*"
)


def redact(text: str) -> str:
    """``text`` with the secrets of any URL in it replaced by ``[redacted]``."""
    text = _SECRET_PATH.sub(r"\1" + REDACTED, text)
    return _SECRET_QUERY.sub(r"\1" + REDACTED, text)


class RedactSecrets(logging.Filter):
    """Rewrites a record's message and string arguments; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {
                k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()
            }
        return True


def log_config() -> dict[str, Any]:
    """uvicorn's default logging configuration, with ``RedactSecrets`` on its loggers, and
    the service's own records (``service.*``: the index's fits, loads and refreshes,
    training runs, mail) at INFO through uvicorn's handler: without it only their
    warnings reached the log, and an operator saw nothing of a start's warm-up."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_secrets"] = {"()": RedactSecrets}
    for name in ("uvicorn.access", "uvicorn.error"):
        config["loggers"][name]["filters"] = ["redact_secrets"]
    # (on the handler: a logger's filter does not see its children's records)
    config["handlers"]["default"]["filters"] = ["redact_secrets"]
    config["loggers"]["service"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config
