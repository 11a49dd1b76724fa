"""Business rules of Tag: this file is yours. backforge wrote it once and never changes it.

Override the hooks you need (see bookclub.core.hooks for when each one runs), e.g.:

    async def validate(self, values, current):
        if values.get("...") == ...:
            raise UnprocessableError("... is not allowed")
"""

from bookclub.core.hooks import Hooks


class TagHooks(Hooks):
    pass
