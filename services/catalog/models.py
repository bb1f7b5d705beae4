from sqlalchemy.orm import DeclarativeBase

from shared.db import service_metadata

SCHEMA = "catalog"


class CatalogBase(DeclarativeBase):
    metadata = service_metadata(SCHEMA)


metadata = CatalogBase.metadata
