from services.booking.models import SCHEMA, metadata
from services.booking.settings import BookingSettings
from shared.migrations import run_environment

run_environment(schema=SCHEMA, metadata=metadata, default_url=BookingSettings().database_url)
