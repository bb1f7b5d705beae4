from services.notify.models import SCHEMA, metadata
from services.notify.settings import NotifySettings
from shared.migrations import run_environment

run_environment(schema=SCHEMA, metadata=metadata, default_url=NotifySettings().database_url)
