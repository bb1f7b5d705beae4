"""Annotated dependencies of the notify service."""

from typing import Annotated

from fastapi import Depends, Request

from services.notify.context import NotifyContext


async def _context(request: Request) -> NotifyContext:
    context: NotifyContext = request.app.state.notify
    return context


ContextDep = Annotated[NotifyContext, Depends(_context)]
