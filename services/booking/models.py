from sqlalchemy.orm import DeclarativeBase

from shared.db import service_metadata

SCHEMA = "booking"


class BookingBase(DeclarativeBase):
    metadata = service_metadata(SCHEMA)


metadata = BookingBase.metadata
