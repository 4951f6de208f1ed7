"""Gunicorn settings, computed by {{ cookiecutter.package_name }}.tuning from the service's settings.

Rendered for cpu_cores={{ cookiecutter.cpu_cores }}, db_max_connections={{ cookiecutter.db_max_connections }}, instances={{ cookiecutter.instances }}:
{%- for cores, plan in cookiecutter | tuning_plans %}
  {{ cores }} core(s) -> {{ plan.workers }} worker(s), each with pool_size {{ plan.pool.pool_size }} + max_overflow {{ plan.pool.max_overflow }}
{%- endfor %}
WEB_CONCURRENCY, DB_POOL_SIZE, DB_MAX_OVERFLOW and BIND override them; a start-up whose
numbers break the connection budget stops with one line. See PERFORMANCE.md.
"""

import asyncio
import atexit
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

# Before anything imports prometheus_client: each worker writes its metrics to files
# here, and /metrics, whichever worker answers it, merges them all. One directory per
# gunicorn, so that two services on one host never count each other's requests.
OWN_METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR" not in os.environ
if OWN_METRICS_DIR:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="metrics-")
METRICS_DIR = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
MASTER_PID = os.getpid()


@atexit.register
def _remove_own_metrics_dir() -> None:
    """Also when this file is loaded without gunicorn's on_exit (a check, a crash at start)."""
    if OWN_METRICS_DIR and os.getpid() == MASTER_PID:  # never from a worker: they exit first
        shutil.rmtree(METRICS_DIR, ignore_errors=True)


from {{ cookiecutter.package_name }}.cache_{{ cookiecutter.cache_backend }} import cleanup_host, prepare_host  # noqa: E402
from {{ cookiecutter.package_name }}.db import verify_server  # noqa: E402
from {{ cookiecutter.package_name }}.logs import logging_config  # noqa: E402
from {{ cookiecutter.package_name }}.monitoring import archive_dead_worker, prepare_directory  # noqa: E402
from {{ cookiecutter.package_name }}.settings import SettingsError, load_settings  # noqa: E402
from {{ cookiecutter.package_name }}.tuning import BudgetError  # noqa: E402

try:
    settings = load_settings()
except SettingsError as exc:
    sys.exit(str(exc))

bind = settings.bind
workers = settings.plan.workers
# uvicorn_worker.UvicornWorker, with a shutdown that drains keep-alive connections and
# leaves time to close the pools (worker.py says why): SIGTERM, SIGHUP and max_requests
# then lose no request.
worker_class = "{{ cookiecutter.package_name }}.worker.Worker"
# JSON lines in production, readable ones in development; the service logs one access
# line per request itself (observe.py), so gunicorn's access log stays off.
logconfig_dict = logging_config(settings)

# gunicorn (25.1 and later) listens for `gunicornc` commands on a unix socket, by default
# the same $XDG_RUNTIME_DIR/gunicorn.ctl (or ~/.gunicorn/gunicorn.ctl) for every master on
# the host: the last one started takes it, and `gunicornc -c "worker remove 1"` meant for
# one service reaches another. Each service has its own, named after it and its port:
#   gunicornc -s $XDG_RUNTIME_DIR/{{ cookiecutter.package_name }}-8000.ctl -c "show workers"
#   (or -s ~/.gunicorn/{{ cookiecutter.package_name }}-8000.ctl when XDG_RUNTIME_DIR is unset)
# `--control-socket PATH` still chooses another; `--no-control-socket` turns it off.
_runtime_dir = os.environ.get("XDG_RUNTIME_DIR")
_control_dir = _runtime_dir if _runtime_dir and os.path.isdir(_runtime_dir) else os.path.expanduser("~/.gunicorn")
control_socket = os.path.join(_control_dir, f"{{ cookiecutter.package_name }}-{settings.port}.ctl")

# Each worker builds its app and pools after the fork: a pool must never cross a fork.
preload_app = False

# For async workers this is a heartbeat: a worker whose event loop is blocked this
# long is killed and replaced. The guide's 120 s would hide a stuck loop for 2 minutes.
timeout = 30
# In-flight requests get this long on SIGTERM or SIGHUP, less the few seconds the
# lifespan keeps to close the pools (worker.py).
graceful_timeout = 30
# Above the 5 s idle timeout of most clients' pools, below most load balancers' 60 s.
keepalive = 10

# Recycle workers to contain slow leaks; jitter keeps them from restarting together.
# High, because a recycle drops the worker's keep-alive connections and warm caches:
# at 10,000, a worker answering cached queries at ~2,000 req/s restarted every 5 s.
max_requests = 100_000
max_requests_jitter = 10_000


def on_starting(_server: object) -> None:
    """Before any worker forks, say the plan, check the budget against the database server
    itself (its engine is disposed here, so no connection crosses the fork), and set up
    what the workers' response caches share."""
    logging.getLogger("{{ cookiecutter.package_name }}.tuning").info("plan: %s", settings.describe_plan())
    try:
        asyncio.run(verify_server(settings))
    except BudgetError as exc:
        sys.exit(str(exc))
    prepare_host()
    prepare_directory(METRICS_DIR)


def child_exit(_server: object, worker: Any) -> None:
    """A worker exited (recycled, killed or stopped): keep its counts, drop its files."""
    archive_dead_worker(worker.pid, METRICS_DIR)


def on_exit(_server: object) -> None:
    cleanup_host()
    if OWN_METRICS_DIR:
        shutil.rmtree(METRICS_DIR, ignore_errors=True)
        del os.environ["PROMETHEUS_MULTIPROC_DIR"]
