"""The `connectzero` command line: exit codes that say whether it worked."""
import pytest
import os
import subprocess
import sys

from ..conftest import free_port

pytestmark = pytest.mark.integration


def cli(*args, data_dir, **env):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CZ_")}
    full_env.update({"CZ_DATA_DIR": str(data_dir), **env})
    return subprocess.run([sys.executable, "-m", "services.cli.main", *args], env=full_env, capture_output=True,
                          text=True, timeout=60)


def test_ops_commands_without_a_running_stack_exit_2_and_say_why(tmp_path):
    result = cli("status", data_dir=tmp_path)
    assert result.returncode == 2 and "no running stack" in result.stdout


def test_unknown_record_type_is_refused(tmp_path):
    result = cli("run", "widget", "--url", "http://127.0.0.1:1", "--token", "t", data_dir=tmp_path)
    assert result.returncode == 2 and "unknown record type 'widget'" in result.stdout


def test_unreachable_admin_api_exits_2(tmp_path):
    result = cli("force-sync", "invoice", "12", "--url", f"http://127.0.0.1:{free_port()}", "--token", "t", data_dir=tmp_path)
    assert result.returncode == 2 and "unreachable" in result.stdout


def test_bad_setting_stops_up_with_the_variable_named(tmp_path):
    result = cli("up", data_dir=tmp_path, CZ_ADMIN_PORT="not-a-port")
    assert result.returncode == 2 and "CZ_ADMIN_PORT" in result.stdout


def test_missing_csv_file_is_refused(tmp_path):
    result = cli("import-mappings", str(tmp_path / "nope.csv"), "--url", "http://127.0.0.1:1", "--token", "t", data_dir=tmp_path)
    assert result.returncode == 2 and "no such file" in result.stdout
