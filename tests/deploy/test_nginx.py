"""What only compose's nginx gateway has: its resolver, taken from the container's /etc/resolv.conf at start
(Docker's embedded DNS and Podman's differ). The behaviour both gateways share is `test_gateways.py`."""

import re
from pathlib import Path

import pytest

from tests.deploy import tools
from tests.deploy.gateways import NGINX_DIR, PODMAN_RESOLV_CONF, TEMPLATES, render_templates


def test_the_resolver_is_the_containers_own_never_a_fixed_address() -> None:
    """Docker's embedded DNS (127.0.0.11) does not exist under Podman, whose DNS is at the network gateway:
    the resolver comes from the container's /etc/resolv.conf at start, through the image's entrypoint."""
    hard_coded = [
        str(path.relative_to(tools.ROOT))
        for path in (tools.ROOT / "deploy").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and "127.0.0.11" in path.read_text(errors="replace")
    ]
    assert not hard_coded, f"a fixed resolver address in {hard_coded}"
    resolvers = [
        (str(path.relative_to(NGINX_DIR)), line.strip())
        for path in NGINX_DIR.rglob("*")
        if path.is_file() and path.suffix in {".conf", ".template"}
        for line in path.read_text().splitlines()
        if re.match(r"\s*resolver\s", line)
    ]
    assert resolvers == [
        ("templates/learncity-resolver.conf.template", "resolver ${NGINX_LOCAL_RESOLVERS} valid=10s ipv6=off;")
    ]
    # Only that variable: the entrypoint's envsubst would empty any other `${...}` it was allowed to fill.
    for template in TEMPLATES.glob("*.template"):
        assert set(re.findall(r"\$\{?(\w+)", template.read_text())) == {"NGINX_LOCAL_RESOLVERS"}
    # nginx.conf includes the rendered file where the entrypoint writes it, /etc/nginx/conf.d/, relative to
    # its own folder /etc/nginx/learncity/, before the upstreams that need it.
    conf = (NGINX_DIR / "nginx.conf").read_text()
    assert conf.index("include ../conf.d/learncity-resolver.conf;") < conf.index("include upstreams.conf;")


@pytest.mark.parametrize(
    ("resolv_conf", "expected"),
    [
        ("nameserver 127.0.0.11\noptions ndots:0\n", "resolver 127.0.0.11 valid=10s ipv6=off;"),  # Docker
        (PODMAN_RESOLV_CONF, "resolver 10.89.0.1 [fd00:89::1] valid=10s ipv6=off;"),
    ],
)
def test_the_rendered_resolver_line(tmp_path: Path, resolv_conf: str, expected: str) -> None:
    render_templates(tmp_path, resolv_conf)
    lines = (tmp_path / "learncity-resolver.conf").read_text().splitlines()
    assert [line for line in lines if not line.startswith("#")] == [expected]
