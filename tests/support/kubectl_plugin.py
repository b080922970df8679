"""``kubectl triage`` as a user runs it: the real ``kubectl`` binary finds the plugin on
PATH as ``kubectl-triage``, the shim an installed console script would be (it imports this
repository's package and calls the entry point)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
OPERATOR = Path(__file__).parents[2] / "operator"


class KubectlTriage:
    def __init__(self, kubeconfig: Path, workdir: Path, *, user: str = "alice") -> None:
        bin_dir = workdir / "plugin-bin"
        bin_dir.mkdir(exist_ok=True)
        shim = bin_dir / "kubectl-triage"
        shim.write_text(
            f"#!{sys.executable}\nfrom kubetriage.kubectl_plugin import entrypoint\nentrypoint()\n"
        )
        shim.chmod(0o755)
        self.env = {
            "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": str(workdir / "home"),
            "KUBECONFIG": str(kubeconfig),
            "PYTHONPATH": str(OPERATOR),
            "USER": user,
        }

    def run(self, *args: str, code: int = 0) -> str:
        """stdout and stderr of ``kubectl triage ARGS``; fails unless it exits ``code``."""
        result = subprocess.run(
            [KUBECTL, "triage", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == code, result.stderr
        return result.stdout + result.stderr
