from sqlalchemy.orm import DeclarativeBase

from shared.db import service_metadata
from shared.events.tables import define_event_tables

SCHEMA = "catalog"


class CatalogBase(DeclarativeBase):
    metadata = service_metadata(SCHEMA)


metadata = CatalogBase.metadata
event_tables = define_event_tables(metadata)
