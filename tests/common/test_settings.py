import pytest

from services.common.settings import Settings, SettingsError, documented_variables, load_settings


def test_defaults_are_valid_and_embedded():
    settings = load_settings()
    assert settings.kafka_bootstrap == "" and settings.postgres_url == ""
    assert settings.admin_port == 8080


def test_environment_variables_use_the_cz_prefix(monkeypatch):
    monkeypatch.setenv("CZ_ADMIN_PORT", "9191")
    monkeypatch.setenv("CZ_LOG_LEVEL", "debug")
    settings = load_settings()
    assert settings.admin_port == 9191 and settings.log_level == "DEBUG"


@pytest.mark.parametrize("var,value,fragment", [
    ("CZ_ADMIN_PORT", "eighty", "CZ_ADMIN_PORT"),
    ("CZ_ADMIN_PORT", "70000", "less than or equal to 65535"),
    ("CZ_LOG_LEVEL", "LOUD", "must be DEBUG, INFO, WARNING or ERROR"),
    ("CZ_AUDIT_RETENTION_DAYS", "7", "CZ_AUDIT_RETENTION_DAYS"),
])
def test_a_bad_value_is_named_with_the_reason(monkeypatch, var, value, fragment):
    monkeypatch.setenv(var, value)
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert fragment in str(err.value) and var in str(err.value)


def test_every_setting_is_documented():
    variables = documented_variables()
    assert len(variables) > 30
    assert all(desc for desc in variables.values()), [k for k, v in variables.items() if not v]


def test_readme_lists_every_setting():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    missing = [var for var in documented_variables() if f"`{var}`" not in readme]
    assert not missing, f"README.md does not document: {missing}"


def test_replicas_are_service_counts_and_audit_stays_one_on_chdb(tmp_path):
    from services.common.settings import SettingsError
    from services.stack.stack import plan, resolve

    assert Settings(replicas="writer=2, mapper=3").replica_counts() == {"writer": 2, "mapper": 3}
    with pytest.raises(SettingsError, match="CZ_REPLICAS: 'writer=two'"):
        Settings(replicas="writer=two").replica_counts()
    settings = Settings(data_dir=tmp_path, replicas="writer=2")
    names = [spec.name for spec in plan(settings, resolve(settings))]
    assert names.count("writer") == 1 and "writer-2" in names
    audit = Settings(data_dir=tmp_path, replicas="audit=2")
    with pytest.raises(SettingsError, match="audit needs a ClickHouse server"):
        plan(audit, resolve(audit))
