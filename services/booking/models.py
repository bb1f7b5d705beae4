from sqlalchemy.orm import DeclarativeBase

from shared.db import service_metadata
from shared.events.tables import define_event_tables

SCHEMA = "booking"


class BookingBase(DeclarativeBase):
    metadata = service_metadata(SCHEMA)


metadata = BookingBase.metadata
event_tables = define_event_tables(metadata)
