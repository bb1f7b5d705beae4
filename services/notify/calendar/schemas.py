from pydantic import Field

from shared.schemas import Output


class CalendarFeedOut(Output):
    url: str = Field(
        description="Your secret feed: subscribe to it in a calendar app. Anyone with it can read your "
        "confirmed sessions; asking for a new one makes this one stop working",
        examples=["https://learn.example.org/v1/calendar/7Kq2mZ0aX4vT9bW1cE8rY3uN6pL5sD0fG2hJ4kM7nQ.ics"],
    )
