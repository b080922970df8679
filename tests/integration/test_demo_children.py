"""What ``kubetriage demo`` starts does not outlive a ``kill -9`` of it (issue 10): its local
Prometheus dies with it (``prctl(PR_SET_PDEATHSIG)``), and the scratch directory left behind
is removed by the next start (``sweep_stale``). Real: a separate Python process starting
the real ``LocalPrometheus`` (Debian's prometheus binary) from its main thread, SIGKILL,
HTTP probes of the Prometheus it started, the temp directory on disk."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from kubetriage.replay.children import OWNER_FILE, owned_tempdir, sweep_stale
from kubetriage.replay.promtool import PROMETHEUS_WORKDIR_PREFIX
from tests.support.polling import wait_for

CHILD = """
import sys
from kubetriage.replay.promtool import LocalPrometheus
prometheus = LocalPrometheus().start()
print(prometheus.url, prometheus.log_path.parent, flush=True)
sys.stdin.read()  # until the test kills this process
"""


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError):
        return False


def test_local_prometheus_dies_with_a_killed_parent_and_its_directory_is_swept() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        assert parent.stdout is not None
        url, workdir_text = parent.stdout.readline().decode().split()
        workdir = Path(workdir_text)
        assert _answers(url)
        assert workdir.name.startswith(PROMETHEUS_WORKDIR_PREFIX)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(timeout=10)
        if parent.stdin is not None:
            parent.stdin.close()
        if parent.stdout is not None:
            parent.stdout.close()
    wait_for(
        lambda: not _answers(url),
        what="prometheus to stop with the process that started it",
        within=30,
    )
    assert workdir.is_dir()  # kill -9: nothing cleaned up ...
    assert workdir in sweep_stale((PROMETHEUS_WORKDIR_PREFIX,))  # ... until the next start
    assert not workdir.exists()


def test_sweep_keeps_directories_whose_owner_lives(tmp_path: Path) -> None:
    mine = owned_tempdir("kubetriage-test-")
    try:
        dead = tmp_path / "kubetriage-test-dead"
        dead.mkdir()
        finished = subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"],
            capture_output=True,
            text=True,
            check=True,
        )
        (dead / OWNER_FILE).write_text(finished.stdout.strip())
        unowned = tmp_path / "kubetriage-test-unowned"
        unowned.mkdir()
        live = tmp_path / "kubetriage-test-live"
        live.mkdir()
        (live / OWNER_FILE).write_text(str(os.getpid()))
        assert sweep_stale(("kubetriage-test-",), root=tmp_path) == [dead]
        assert live.is_dir()
        assert unowned.is_dir()
        assert sweep_stale(("kubetriage-test-",)) == []  # ours (mine) is alive
        assert mine.is_dir()
    finally:
        mine.joinpath(OWNER_FILE).unlink()
        mine.rmdir()
