"""The `learncity` command: run the whole system, one service, migrations and operator chores."""

import asyncio
import getpass
from typing import Annotated

import typer
import uvicorn

from shared.topology import DEFAULT_GATEWAY_PORT, SERVICES

app = typer.Typer(
    help="Learning City: find, book and record learning activities within a 15-minute walk.",
    no_args_is_help=True,
    add_completion=False,
)

ServiceName = Annotated[str, typer.Argument(help=f"One of: {', '.join(SERVICES)}")]


def _check_service(service: str) -> str:
    if service not in SERVICES:
        raise typer.BadParameter(f"unknown service {service!r}; choose one of {', '.join(SERVICES)}")
    return service


@app.command()
def up(
    port: Annotated[int, typer.Option(help="Gateway port; the services take the next three")] = DEFAULT_GATEWAY_PORT,
    host: Annotated[str, typer.Option(help="Gateway address")] = "127.0.0.1",
    seed: Annotated[bool, typer.Option(help="Seed the demo city on a fresh embedded database")] = True,
) -> None:
    """Start PostgreSQL (embedded unless DATABASE_URL is set), migrate, seed, and run every service
    behind one gateway. Ctrl-C stops it all."""
    from learncity.devrunner import up as run_up

    asyncio.run(run_up(host=host, port=port, seed=seed))


@app.command()
def serve(
    service: ServiceName,
    host: Annotated[str, typer.Option(help="Listen address")] = "0.0.0.0",  # noqa: S104 - containers listen on all
    port: Annotated[int, typer.Option(help="Listen port")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes")] = 1,
) -> None:
    """Run one service (what a container runs). Settings come from its env prefix, e.g. ORGS_DATABASE_URL."""
    _check_service(service)
    uvicorn.run(
        f"services.{service}.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        proxy_headers=False,
        server_header=False,
    )


@app.command()
def migrate(
    service: Annotated[str | None, typer.Argument(help="Only this service (default: all)")] = None,
) -> None:
    """Apply migrations to head (every service, or one), on DATABASE_URL or the embedded database."""
    from learncity.devrunner import migrate_all, prepare_database
    from shared.migrations import upgrade_to_head

    database = asyncio.run(prepare_database())
    if service is None:
        migrate_all(database.url)
    else:
        upgrade_to_head(_check_service(service), database.url)


@app.command()
def revision(
    service: ServiceName,
    message: Annotated[str, typer.Option("-m", "--message", help="What the migration does")],
) -> None:
    """Autogenerate a migration for one service from its models (against a database at head)."""
    from alembic import command

    from learncity.devrunner import migrate_all, prepare_database
    from shared.migrations import alembic_config

    database = asyncio.run(prepare_database())
    migrate_all(database.url)
    command.revision(alembic_config(_check_service(service), database.url), message=message, autogenerate=True)


@app.command("create-operator")
def create_operator(
    email: Annotated[str, typer.Argument(help="The account's email; created when it does not exist")],
    display_name: Annotated[str, typer.Option(help="Name for a new account")] = "Operator",
    password: Annotated[
        str | None, typer.Option(envvar="LEARNCITY_OPERATOR_PASSWORD", help="Password for a new account")
    ] = None,
) -> None:
    """Grant the platform operator role (acts on every organization) to an account."""
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
