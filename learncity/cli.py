"""The `learncity` command: run the whole system, one service, migrations and operator chores."""

import asyncio
import getpass
import warnings
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from shared.topology import DEFAULT_GATEWAY_PORT, SERVICES

if TYPE_CHECKING:
    from sqlalchemy import Table

    from shared.events.tables import EventTables

# Imports stay inside the commands that need them: `learncity probe` runs every few seconds in each container
# (its healthcheck) and must not pay for SQLAlchemy, uvicorn or a service's application on every start.

# The embedded PostgreSQL asks platformdirs for a runtime dir; in containers and CI none is set, and the
# fallback it warns about is fine. The warning would be the first line of every command's output.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

app = typer.Typer(
    help="Learning City: find, book and record learning activities within a 15-minute walk.\n\n"
    "Start here: `learncity up` runs everything on this machine and prints the URLs. The database is an "
    "embedded PostgreSQL in LEARNCITY_DATA_DIR (default ./.learncity) unless DATABASE_URL is set.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
)


class Service(StrEnum):
    """A choice, so `--help` lists the services and a typo is refused with the list."""

    orgs = "orgs"
    catalog = "catalog"
    booking = "booking"
    notify = "notify"


assert tuple(Service) == SERVICES, "learncity.cli.Service must follow shared.topology.SERVICES"
ServiceName = Annotated[Service, typer.Argument(help="The service", show_default=False)]
# Every service container listens here (`learncity serve --port`, deploy.render.SERVICE_PORT).
_SERVICE_PORT = 8000


@app.command()
def up(
    port: Annotated[int, typer.Option(help="Gateway port; the services take the next four")] = DEFAULT_GATEWAY_PORT,
    host: Annotated[str, typer.Option(help="Gateway address")] = "127.0.0.1",
    seed: Annotated[bool, typer.Option(help="Seed the demo city on a fresh embedded database")] = True,
) -> None:
    """Run the whole system on this machine, with demo data.

    Starts PostgreSQL (embedded unless DATABASE_URL is set), applies every service's migrations, seeds the
    demo city on a fresh embedded database, starts a local mail sink (notify's mails become `.eml` files), the
    four services on the ports after `--port` and the gateway, and prints a table of URLs (API, docs, health)
    and the mail folder. Ctrl-C stops it all.

    Example: `learncity up --port 9000`
    """
    from learncity.devrunner import up as run_up

    asyncio.run(run_up(host=host, port=port, seed=seed))


@app.command()
def serve(
    service: ServiceName,
    host: Annotated[str, typer.Option(help="Listen address")] = "0.0.0.0",  # noqa: S104 - containers listen on all
    port: Annotated[int, typer.Option(help="Listen port")] = _SERVICE_PORT,
    workers: Annotated[int, typer.Option(help="Worker processes")] = 1,
) -> None:
    """Run one service's HTTP API (what a container runs).

    Settings come from the service's env prefix, e.g. ORGS_DATABASE_URL, CATALOG_BOOKING_URL. The database
    must already be migrated (`learncity migrate`).

    Example: `learncity serve catalog --port 8002`
    """
    import uvicorn

    uvicorn.run(
        f"services.{service}.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,  # the services write their own access line (shared.middleware)
        proxy_headers=False,
        server_header=False,
    )


@app.command()
def probe(
    url: Annotated[str, typer.Option(help="What to ask")] = f"http://127.0.0.1:{_SERVICE_PORT}/readyz",
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the answer")] = 2.0,
) -> None:
    """Exit 0 if a URL answers 200, else 1 (the healthcheck).

    By default asks this container's service whether it is ready (`/readyz`: database reachable, migrations
    at head). Prints nothing when ready, and the reason when not. No proxy is used, whatever the environment
    says. It starts fast and imports no service, so healthchecks can run it often.

    Example: `learncity probe --url http://127.0.0.1:8000/healthz --timeout 1`
    """
    import urllib.error
    import urllib.request

    if not url.startswith(("http://", "https://")):
        raise typer.BadParameter("give an http:// or https:// URL", param_hint="--url")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
        error.close()
    except urllib.error.URLError as error:  # refused, unresolvable
        typer.echo(f"{url}: {error.reason}", err=True)
        raise typer.Exit(1) from None
    except (OSError, ValueError) as error:  # timed out, reset, malformed URL
        typer.echo(f"{url}: {error or type(error).__name__}", err=True)
        raise typer.Exit(1) from None
    if status != 200:
        typer.echo(f"{url}: HTTP {status}", err=True)
        raise typer.Exit(1)


@app.command()
def migrate(
    service: Annotated[Service | None, typer.Argument(help="Only this service (default: all)")] = None,
) -> None:
    """Apply migrations to head, for every service or one.

    Uses DATABASE_URL, or the embedded database in LEARNCITY_DATA_DIR.
    """
    from learncity.devrunner import migrate_all, prepare_database
    from shared.migrations import upgrade_to_head

    database = asyncio.run(prepare_database())
    if service is None:
        migrate_all(database.url)
    else:
        upgrade_to_head(service.value, database.url)


@app.command()
def revision(
    service: ServiceName,
    message: Annotated[str, typer.Option("-m", "--message", help="What the migration does")],
) -> None:
    """Autogenerate a migration from a service's models.

    Migrates a database to head first, then writes `migrations/<service>/versions/<date>-<rev>_<slug>.py`.
    Review the file before committing it.

    Example: `learncity revision catalog -m "add site photos"`
    """
    from alembic import command

    from learncity.devrunner import migrate_all, prepare_database
    from shared.migrations import alembic_config

    database = asyncio.run(prepare_database())
    migrate_all(database.url)
    command.revision(alembic_config(service.value, database.url), message=message, autogenerate=True)


@app.command()
def seed(
    demo: Annotated[bool, typer.Option("--demo", help="Load the Hangzhou demo city")] = False,
) -> None:
    """Load a data set (migrating the database first).

    `--demo`: the Hangzhou demo city: sites, organizations, activities, the West Lake Reading Festival,
    eight weeks of sessions ahead, and its past: 1000 demo citizens and five months of sessions they booked,
    attended, missed or cancelled (so participation figures and maps show something). Idempotent: a second
    run adds nothing.

    Example: `learncity seed --demo`
    """
    from learncity.devrunner import migrate_all, prepare_database, seed_demo_city

    if not demo:
        raise typer.BadParameter("name a data set, e.g. --demo")

    async def run() -> None:
        database = await prepare_database()
        await asyncio.to_thread(migrate_all, database.url)
        await seed_demo_city(database.url)

    asyncio.run(run())


@app.command("create-operator")
def create_operator(
    email: Annotated[str, typer.Argument(help="The account's email; created when it does not exist")],
    display_name: Annotated[str, typer.Option(help="Name for a new account")] = "Operator",
    password: Annotated[
        str | None, typer.Option(envvar="LEARNCITY_OPERATOR_PASSWORD", help="Password for a new account")
    ] = None,
) -> None:
    """Grant the platform operator role to an account.

    Creates the account when it does not exist. Operators may act on every organization. Sign in again
    afterwards: the role is in new tokens only.

    Example: `LEARNCITY_OPERATOR_PASSWORD=... learncity create-operator ops@example.org`
    """
    from learncity.devrunner import prepare_database
    from services.orgs.commands import grant_operator

    async def run() -> bool:
        database = await prepare_database()
        return await grant_operator(database.url, email, display_name=display_name, password=password or _ask)

    created = asyncio.run(run())
    typer.echo(f"{'Created' if created else 'Updated'} operator {email}")


def _ask() -> str:
    while True:
        password = getpass.getpass("Password for the new operator (10+ characters): ")
        if len(password) >= 10:
            return password
        typer.echo("Too short.")


def _event_tables() -> "dict[str, tuple[EventTables, Table | None]]":
    """Each service's event tables, with its audit trail (a retry is recorded there)."""
    import importlib

    tables: dict[str, tuple[EventTables, Table | None]] = {}
    for service in SERVICES:
        models = importlib.import_module(f"services.{service}.models")
        if hasattr(models, "event_tables"):
            tables[service] = (models.event_tables, getattr(models, "audit_log", None))
    return tables


@app.command()
def events(
    retry: Annotated[bool, typer.Option("--retry", help="Queue every failed delivery again")] = False,
) -> None:
    """List or retry failed event deliveries (dead letters).

    A delivery fails for good after every attempt of the relay's backoff; `--retry` queues them all again
    (an operator's act: recorded in each service's audit trail, `GET /v1/.../audit`).

    Example: `learncity events --retry`
    """
    from rich.console import Console
    from rich.table import Table
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    from learncity.devrunner import prepare_database
    from shared.db import async_url
    from shared.events.admin import failed_deliveries, retry_failed

    async def run() -> None:
        database = await prepare_database()
        engine = create_async_engine(async_url(database.url))
        table = Table("service", "event", "type", "subscriber", "attempts", "last error", title="Failed deliveries")
        try:
            async with async_sessionmaker(engine).begin() as session:
                for service, (tables, audit_log) in _event_tables().items():
                    if retry:
                        queued = await retry_failed(session, tables, audit_log=audit_log)
                        typer.echo(f"{service}: {queued} deliveries queued again")
                        continue
                    for row in await failed_deliveries(session, tables):
                        error = (row.last_error or "")[:60]
                        table.add_row(service, str(row.event_id), row.type, row.subscriber, str(row.attempts), error)
        finally:
            await engine.dispose()
        if not retry:
            Console().print(table if table.row_count else "No failed deliveries.")

    asyncio.run(run())


@app.command()
def mails(
    limit: Annotated[int, typer.Option(min=1, help="How many to list")] = 10,
) -> None:
    """List the newest dev mails (what notify sent).

    `learncity up` keeps every mail in LEARNCITY_DATA_DIR/mail as a `.eml` file (open one with any mail
    program). Under docker compose the mails are in Mailpit instead: http://127.0.0.1:8025.

    Example: `learncity mails --limit 3`
    """
    from rich.console import Console
    from rich.table import Table

    from learncity.mailsink import mail_files, mail_folder, read_mail

    folder = mail_folder()
    newest = mail_files(folder)[-limit:][::-1]
    if not newest:
        typer.echo(f"No dev mails in {folder} yet.")
        return
    table = Table("to", "subject", "file", title=f"Newest dev mails in {folder}")
    for path in newest:
        mail = read_mail(path)
        table.add_row(mail.to, mail.subject, path.name)
    Console().print(table)


@app.command()
def relay(service: ServiceName) -> None:
    """Run only a service's outbox relay (no HTTP API).

    Extra replicas are safe: deliveries are claimed with SKIP LOCKED.
    """
    import importlib
    import os

    if service.value not in _event_tables():
        raise typer.BadParameter(f"{service} publishes no events")
    os.environ[f"{service.upper()}_RELAY_ENABLED"] = "true"
    application = importlib.import_module(f"services.{service}.app").create_app()

    async def run() -> None:
        # The service's lifespan starts its relay; this process serves nothing else.
        async with application.router.lifespan_context(application):
            await asyncio.Event().wait()

    asyncio.run(run())
