# The service's settings as the runtime modules see them, for type checking them inside
# backforge. A generated service has a real core/settings.py, rendered from templates/project/
# __package__/core/settings.py.jinja (its fields differ with the spec); its `get_settings`
# returns a `Settings` with at least what `DatabaseSettings` (core/db.py) declares.

from .db import DatabaseSettings

def get_settings() -> DatabaseSettings: ...
