from services.orgs.models import SCHEMA, metadata
from services.orgs.settings import OrgsSettings
from shared.migrations import run_environment

run_environment(schema=SCHEMA, metadata=metadata, default_url=OrgsSettings().database_url)
