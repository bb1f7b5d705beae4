from services.catalog.models import Series
from shared.repository import Repository


class SeriesRepository(Repository[Series]):
    model = Series
