from services.catalog.models import SCHEMA, metadata
from services.catalog.settings import CatalogSettings
from shared.migrations import run_environment

run_environment(schema=SCHEMA, metadata=metadata, default_url=CatalogSettings().database_url)
