import pytest

from {{ cookiecutter.package_name }}.settings import SettingsError, load_settings
from {{ cookiecutter.package_name }}.tuning import detect_cpu_cores, plan_for


def test_web_concurrency_overrides_the_computed_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEB_CONCURRENCY", "3")

    assert load_settings(_env_file=None).plan.workers == 3


def test_pool_overrides_win_over_the_computed_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_POOL_SIZE", "4")
    monkeypatch.setenv("DB_MAX_OVERFLOW", "0")

    pool = load_settings(_env_file=None).plan.pool

    assert (pool.pool_size, pool.max_overflow) == (4, 0)


def test_without_overrides_the_plan_is_the_tuning_functions_plan() -> None:
    settings = load_settings(_env_file=None, cpu_cores=4, db_max_connections=200, instances=2)

    assert settings.plan == plan_for(4, 200, 2)


def test_auto_cores_use_the_detected_count() -> None:
    assert load_settings(_env_file=None, cpu_cores="auto").plan.workers == detect_cpu_cores()


def test_overrides_that_break_the_budget_stop_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_MAX_CONNECTIONS", "100")
    monkeypatch.setenv("WEB_CONCURRENCY", "4")
    monkeypatch.setenv("DB_POOL_SIZE", "50")

    with pytest.raises(SettingsError) as raised:
        load_settings(_env_file=None)

    message = str(raised.value)
    assert "\n" not in message
    assert "db_max_connections=100" in message
    assert "DB_POOL_SIZE" in message


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WEB_CONCURRENCY", "abc"),
        ("WEB_CONCURRENCY", "0"),
        ("CPU_CORES", "257"),
        ("CPU_CORES", "many"),
        ("DB_MAX_CONNECTIONS", "5"),
        ("APP_ENV", "staging"),
        ("BIND", "8000"),
        ("BIND", "0.0.0.0:99999"),
        ("REQUEST_TIMEOUT_SECONDS", "0"),
        ("MAX_BODY_BYTES", "100"),
        ("GRAPHQL_MAX_DEPTH", "1"),
        ("GRAPHQL_MAX_ALIASES", "-1"),
        ("GRAPHQL_MAX_COST", "lots"),
        ("MAX_BATCH_SIZE", "-1"),
        ("SERVER_TIMING", "sometimes"),
        ("MAX_HEADER_BYTES", "100"),
        ("CLIENT_TIMEOUT_SECONDS", "0"),
        ("METRICS_ALLOW", "10.0.0.0/8,prometheus"),
    ],
)
def test_a_bad_env_value_is_named_with_its_value(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(SettingsError) as raised:
        load_settings(_env_file=None)

    assert str(raised.value).startswith(f"{name}={value!r} is not valid: ")
    assert "\n" not in str(raised.value)


def test_bind_gives_host_and_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIND", "0.0.0.0:9000")

    settings = load_settings(_env_file=None)

    assert (settings.host, settings.port) == ("0.0.0.0", 9000)


def test_profile_is_refused_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("PROFILE", "1")

    with pytest.raises(SettingsError) as raised:
        load_settings(_env_file=None)

    assert "PROFILE is on while APP_ENV=production" in str(raised.value)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("app_env", "server_timing", "expected"),
    [
        ("development", None, True),
        ("production", None, False),
        ("production", "1", True),
        ("development", "0", False),
    ],
)
def test_server_timing_is_on_in_development_unless_set(
    monkeypatch: pytest.MonkeyPatch, app_env: str, server_timing: str | None, expected: bool
) -> None:
    monkeypatch.setenv("APP_ENV", app_env)
    if server_timing is not None:
        monkeypatch.setenv("SERVER_TIMING", server_timing)

    assert load_settings(_env_file=None).timing_header is expected
