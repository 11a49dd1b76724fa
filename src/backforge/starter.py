"""The commented starter spec `backforge init [NAME]` writes."""

from __future__ import annotations

import yaml

from backforge.errors import Problem, SpecError
from backforge.names import service_name_problem

_TEMPLATE = """\
# A backforge service spec. `backforge validate` checks it; `backforge schema` prints the
# JSON Schema of the language, for editors that complete and check YAML.

service:
  # identifier: the package, database and image names derive from it
  name: {name}
  title: {title}
  version: 0.1.0
  description: Projects, their tasks and the labels on them.

api:
  base_path: /api/v1             # every resource route starts with this
  # cursor: ?limit= and ?cursor=, pages are {{items, next_cursor, limit}}
  # offset: ?limit= and ?offset=, pages are {{items, total, limit, offset}}
  pagination: {{style: cursor, default_limit: 20, max_limit: 100}}

# Every resource gets `id`, `created_at`, `updated_at` and `version` without being asked.
# Resource names are PascalCase; field names are snake_case.
resources:
  Project:
    description: A piece of work with a name and a deadline.
    fields:
      # a string is at most 255 characters unless max_length says otherwise
      name: {{type: string, max_length: 120, required: true, searchable: true}}
      code: {{type: string, max_length: 6, pattern: '^[A-Z]{{2,6}}$', unique: true}}
      summary: text                # shorthand: just the type, every option at its default
      due_on: date
    filter: [due_on]               # ?due_on=2024-05-17, also ?due_on__gte=...&due_on__lte=...
    sort: [name, due_on]           # ?sort=name or ?sort=-due_on (descending)

  Task:
    fields:
      title: {{type: string, max_length: 200, required: true, searchable: true}}
      status: {{type: enum, values: [todo, doing, done], default: todo}}
      estimate_hours: {{type: decimal, precision: 6, scale: 1, min: 0}}
      priority: {{type: int, min: 1, max: 5, default: 3}}
      # many-to-one: on the wire `"project": 3`; deleting a project deletes its tasks
      project: {{type: ref, to: Project, required: true, on_delete: cascade}}
      # an optional reference to the same resource; cleared when the parent is deleted
      parent: {{type: ref, to: Task, on_delete: set_null}}
      # many-to-many: on the wire `"labels": [1, 2]`, plus add/remove sub-endpoints
      labels: {{type: many, to: Label}}
    indexes:
      - [project, status]          # a composite index
    filter: [status, project, priority]   # ?status=todo, ?status__in=todo,doing
    sort: [priority, created_at]

  Label:
    fields:
      # unique: a second label with the same text is refused with 409
      text: {{type: string, max_length: 40, required: true, unique: true}}
      color: {{type: string, max_length: 7, pattern: '^#[0-9a-f]{{6}}$', default: '#888888'}}
"""


def starter_spec(name: str = "my_service") -> str:
    """A small, commented spec for a new service called ``name``; refuses an invalid name."""
    bad = service_name_problem(name)
    if bad:
        raise SpecError([Problem("backforge init", None, "NAME", *bad)])
    title = name.replace("_", " ").strip().title() + " API"
    return _TEMPLATE.format(name=_plain(name), title=_plain(title))


def _plain(text: str) -> str:
    """``text`` as a YAML scalar: plain when YAML reads it back as that string, else quoted."""
    return text if yaml.safe_load(text) == text else f'"{text}"'
