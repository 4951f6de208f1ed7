"""Logging: JSON lines in production, readable lines in development.

One configuration (a `logging.config.dictConfig` dict) for everything the
process logs: gunicorn's arbiter and workers take it as `logconfig_dict`, and
`serve --reload` hands it to uvicorn. Access lines come from `observe.py`;
gunicorn's and uvicorn's own access logs are off, so that there is one per request.
"""

from __future__ import annotations

from typing import Any

from .settings import Settings


def describe(error: BaseException) -> str:
    """An exception in one line, as log lines and health reports name it: its type, and the
    first line of its message when it has one."""
    return f"{type(error).__name__}: {error}".splitlines()[0].removesuffix(": ")


TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s"


def logging_config(settings: Settings) -> dict[str, Any]:
    formatter = "json" if settings.production else "text"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": JSON_FIELDS,
                "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger", "process": "pid"},
            },
            "text": {"format": TEXT_FORMAT},
        },
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": formatter, "stream": "ext://sys.stderr"}
        },
        "root": {"level": settings.log_level, "handlers": ["stderr"]},
        "loggers": {
            # The same handler, so gunicorn's and uvicorn's messages have the same format
            # (uvicorn's worker gives "uvicorn.error" the handlers of "gunicorn.error").
            "gunicorn.error": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
            "uvicorn.error": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
            "gunicorn.access": {"handlers": [], "propagate": False},
            # SQLAlchemy names a pool's logger after its class and logs each dispose at INFO;
            # its own pools' loggers sit under "sqlalchemy", which it keeps at WARNING.
            f"{__package__}.db.MonitoredPool": {"level": "WARNING"},
            "uvicorn.access": {"handlers": [], "propagate": False},
        },
    }
