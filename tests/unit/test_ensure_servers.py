"""scripts/ensure-servers on a bare Debian machine installs PostgreSQL and RabbitMQ from Debian's
packages and starts them, instead of stopping. Run against stand-ins for apt-get and the servers'
commands (recording how they were called) on a PATH without the machine's own: the machine's
servers are never touched, uninstalled or restarted."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "ensure-servers"
TOOLS = ("bash", "timeout", "seq", "sleep", "ls", "head", "tail", "sort", "cat", "grep", "rm",
         "mkdir", "chmod", "dirname", "cp")
SERVER_COMMANDS = {
    "postgresql": ("pg_ctlcluster", "pg_createcluster"),
    "rabbitmq-server": ("rabbitmq-server", "rabbitmqctl", "rabbitmq-diagnostics", "rabbitmq-plugins"),
}
STAND_IN = """#!/bin/bash
echo "${0##*/} $*" >> "$CALLS"
"""
APT_GET = STAND_IN + """
if [ "$1" = install ]; then
  for package in "$@"; do
    case $package in
      postgresql) made="pg_ctlcluster pg_createcluster" ;;
      rabbitmq-server) made="rabbitmq-server rabbitmqctl rabbitmq-diagnostics rabbitmq-plugins" ;;
      *) made="" ;;
    esac
    for command in $made; do cp "$STAND_IN_FILE" "$(dirname "$0")/$command"; done
    [ "$package" = postgresql ] && cp "$STAND_IN_FILE.pg_createcluster" "$(dirname "$0")/pg_createcluster"
  done
fi
exit 0
"""
PG_CREATECLUSTER = STAND_IN + """
mkdir -p "$ONETRIP_PG_ETC/$1/$2"
printf 'local all postgres peer\\nhost all all 127.0.0.1/32 scram-sha-256\\n' \\
  > "$ONETRIP_PG_ETC/$1/$2/pg_hba.conf"
"""


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Machine:
    """A PATH with the basic tools and stand-ins, and an empty /etc/postgresql of its own."""

    def __init__(self, tmp_path: Path, root: bool = True) -> None:
        self.bin = tmp_path / "bin"
        self.bin.mkdir()
        self.calls = tmp_path / "calls.log"
        self.calls.touch()
        self.pg_etc = tmp_path / "etc-postgresql"
        self.stand_in = tmp_path / "stand-in"
        for path, text in ((self.stand_in, STAND_IN),
                           (tmp_path / "stand-in.pg_createcluster", PG_CREATECLUSTER)):
            path.write_text(text)
            path.chmod(0o755)
        for tool in TOOLS:
            found = shutil.which(tool)
            assert found, tool
            (self.bin / tool).symlink_to(found)
        self.command("apt-get", APT_GET)
        self.command("id", "#!/bin/bash\necho " + ("0" if root else "1000") + "\n")

    def command(self, name: str, text: str) -> None:
        (self.bin / name).write_text(text)
        (self.bin / name).chmod(0o755)

    def installed(self, package: str) -> None:
        for command in SERVER_COMMANDS[package]:
            self.command(command, STAND_IN)
        self.command("pg_createcluster", PG_CREATECLUSTER)

    def run(self, **ports: int) -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": str(self.bin), "CALLS": str(self.calls), "STAND_IN_FILE": str(self.stand_in),
            "ONETRIP_PG_ETC": str(self.pg_etc), "ONETRIP_SERVER_WAIT_SECONDS": "1",
            "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{ports['pg']}/onetrip",
            "AMQP_URI": f"amqp://guest:guest@127.0.0.1:{ports['amqp']}/",
            "ONETRIP_BROKER_API_URL": f"http://127.0.0.1:{ports['api']}/api",
            "HOME": os.environ.get("HOME", "/root"),
        }
        return subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True,
                              check=False, timeout=60)

    def called(self) -> list[str]:
        return self.calls.read_text().splitlines()


ANSWERING = {"pg": 5432, "amqp": 5672, "api": 15672}  # the machine's own servers


def nothing_answers() -> dict[str, int]:
    return {"pg": closed_port(), "amqp": closed_port(), "api": closed_port()}


def test_on_a_bare_machine_postgresql_is_installed_from_debian_and_started(tmp_path: Path) -> None:
    # Given a root shell on Debian without PostgreSQL, no Docker engine, nothing answering there
    machine = Machine(tmp_path)
    # When the two commands make sure the servers answer
    ran = machine.run(**{**ANSWERING, "pg": closed_port()})
    calls = machine.called()
    # Then PostgreSQL is installed with apt-get, a cluster made, then started
    newest = newest_postgresql()
    assert calls == ["apt-get update -qq", "apt-get install -y -qq postgresql",
                     f"pg_createcluster {newest} main",
                     f"pg_ctlcluster --skip-systemctl-redirect {newest} main start"], calls
    # And the cluster it made trusts loopback connections, as DATABASE_URL's default expects
    hba = (machine.pg_etc / newest / "main" / "pg_hba.conf").read_text().splitlines()
    assert hba[1:3] == ["host all all 127.0.0.1/32 trust", "host all all ::1/128 trust"], hba
    assert hba[-1] == "host all all 127.0.0.1/32 scram-sha-256"
    # And (the stand-ins start nothing) it then says what does not answer, and fails
    assert ran.returncode == 1
    assert "PostgreSQL does not answer" in ran.stderr


def test_on_a_bare_machine_rabbitmq_is_installed_from_debian_and_started(tmp_path: Path) -> None:
    machine = Machine(tmp_path)
    ran = machine.run(**{**ANSWERING, "amqp": closed_port(), "api": closed_port()})
    calls = machine.called()
    assert calls[:3] == ["apt-get update -qq", "apt-get install -y -qq rabbitmq-server",
                         "rabbitmq-server -detached"], calls
    assert "rabbitmqctl -q await_startup --timeout 120" in calls
    assert ran.returncode == 1
    assert "RabbitMQ does not answer" in ran.stderr


def test_without_root_it_says_what_to_install_and_installs_nothing(tmp_path: Path) -> None:
    machine = Machine(tmp_path, root=False)
    ran = machine.run(**nothing_answers())
    assert not any(call.startswith("apt-get") for call in machine.called())
    assert "postgresql not installed and cannot be installed here (needs root" in ran.stderr
    assert ran.returncode == 1


def test_an_installed_server_is_started_and_its_configuration_left_alone(tmp_path: Path) -> None:
    # Given PostgreSQL and RabbitMQ installed and stopped
    machine = Machine(tmp_path)
    machine.installed("postgresql")
    machine.installed("rabbitmq-server")
    hba = machine.pg_etc / "15" / "main" / "pg_hba.conf"
    hba.parent.mkdir(parents=True)
    hba.write_text("host all all 127.0.0.1/32 scram-sha-256\n")
    # When the servers are made sure of
    machine.run(**{**ANSWERING, "pg": closed_port()})
    machine.run(**{**ANSWERING, "amqp": closed_port()})
    # Then they are started, nothing is installed, the cluster's configuration is as it was
    calls = machine.called()
    assert "pg_ctlcluster --skip-systemctl-redirect 15 main start" in calls
    assert "rabbitmq-server -detached" in calls
    assert not any(call.startswith("apt-get") for call in calls), calls
    assert hba.read_text() == "host all all 127.0.0.1/32 scram-sha-256\n"


def test_servers_that_answer_are_left_as_they_are(tmp_path: Path) -> None:
    # Given the machine's own servers answering (started by the suite's make test)
    machine = Machine(tmp_path)
    ran = machine.run(**ANSWERING)
    # Then nothing is installed or started
    assert ran.returncode == 0, ran.stderr
    assert machine.called() == []


def newest_postgresql() -> str:
    return max(os.listdir("/usr/lib/postgresql"), key=lambda v: [int(p) for p in v.split(".")])
