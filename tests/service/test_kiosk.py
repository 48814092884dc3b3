"""`tui-pos kiosk install|uninstall`: the unit and getty override it writes, and what it refuses."""

import os
import shutil
import subprocess
import sys

import pytest

from tests.service.test_cli import run


def test_dry_run_prints_a_unit_that_starts_the_register_on_the_tty_and_restarts_it(tmp_path):
    out = run(["kiosk", "install", "--user", "daemon", "--tty", "2", "--dry-run"], tmp_path)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    unit = text.split("# ---- /etc/systemd/system/tui-pos-kiosk.service\n")[1].split("# ----")[0]
    for line in ("User=daemon", "PAMName=login", "TTYPath=/dev/tty2", "StandardInput=tty", "Restart=always",
                 "Conflicts=getty@tty2.service", "WantedBy=multi-user.target", "Environment=TERM=linux",
                 "StandardError=journal"):
        assert line in unit.splitlines(), line
    exec_line = next(x for x in unit.splitlines() if x.startswith("ExecStart="))
    assert exec_line.endswith(("tui-pos", "-m tui_pos"))
    assert "# ---- /etc/systemd/system/getty@tty2.service.d/tui-pos-kiosk.conf" in text
    assert "Conflicts=tui-pos-kiosk.service" in text
    assert "# then: systemctl enable tui-pos-kiosk.service" in text
    assert "nothing was written" in text


def test_the_unit_passes_systemd_analyze(tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze not installed")
    out = run(["kiosk", "install", "--user", "daemon", "--root", str(tmp_path / "root")], tmp_path)
    assert out.returncode == 0, out.stderr
    unit = tmp_path / "root/etc/systemd/system/tui-pos-kiosk.service"
    check = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)], capture_output=True, text=True)
    problems = [x for x in check.stderr.splitlines() if "tui-pos-kiosk.service" in x]
    assert not problems, check.stderr


def test_install_and_uninstall_under_a_root(tmp_path):
    root = tmp_path / "root"
    out = run(["kiosk", "install", "--user", "daemon", "--root", str(root)], tmp_path)
    assert out.returncode == 0, out.stderr
    unit = root / "etc/systemd/system/tui-pos-kiosk.service"
    override = root / "etc/systemd/system/getty@tty1.service.d/tui-pos-kiosk.conf"
    assert unit.is_file() and override.is_file()
    out = run(["kiosk", "uninstall", "--root", str(root)], tmp_path)
    assert out.returncode == 0 and "removed" in out.stdout
    assert not unit.exists() and not override.exists() and not override.parent.exists()
    out = run(["kiosk", "uninstall", "--root", str(root)], tmp_path)
    assert "nothing to remove" in out.stdout


@pytest.mark.parametrize("args,fragment", [
    (["--tty", "0", "--dry-run"], "--tty 0: expected a console number from 1 to 12"),
    (["--user", "no-such-user-here"], "there is no user 'no-such-user-here'"),
    (["--user", "root"], "must not run as root"),
])
def test_bad_input_changes_nothing(tmp_path, args, fragment):
    root = tmp_path / "root"
    out = run(["kiosk", "install", "--root", str(root), *args], tmp_path)
    assert out.returncode == 1 and fragment in out.stderr and "Traceback" not in out.stderr
    assert not root.exists()


def test_install_without_root_is_refused(tmp_path):
    if os.geteuid() != 0:
        out = run(["kiosk", "install", "--user", "daemon"], tmp_path)
    else:
        if shutil.which("setpriv") is None:
            pytest.skip("setpriv not installed")
        import tempfile
        home = tempfile.mkdtemp(prefix="tuipos-nobody-")   # a place user nobody may use
        os.chmod(home, 0o777)
        env = dict(os.environ, HOME=home, XDG_DATA_HOME=f"{home}/data", XDG_CONFIG_HOME=f"{home}/config")
        try:
            out = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                  sys.executable, "-m", "tui_pos", "kiosk", "install", "--user", "daemon"],
                                 capture_output=True, text=True, cwd=home, env=env, timeout=60)
        finally:
            shutil.rmtree(home, ignore_errors=True)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "run it as root" in out.stderr and "nothing was changed" in out.stderr
    assert not os.path.exists("/etc/systemd/system/tui-pos-kiosk.service")
