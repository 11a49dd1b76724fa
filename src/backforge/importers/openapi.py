"""`backforge import openapi`: a spec from an OpenAPI 3.0/3.1 contract.

The contract's paths are read as resources: a collection `/{plural}` (list with GET, create
with POST) and its item `/{plural}/{id}` (read with GET, replace with PUT, update with PATCH,
delete with DELETE). The resource's fields come from the schemas those operations read and
write; the list's query parameters give filters and pagination; the error responses give the
shape of errors; the security requirements give accounts and permissions. Every operation of
the contract ends in the import report as `mapped` (the generated service answers it as the
contract says), `changed` (it answers, with the differences listed) or `not_mapped` (with the
reason), and the spec carries each difference as a comment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from backforge.importers.contract import Contract, ImportRefusedError, Schema
from backforge.importers.fields import FieldMapper
from backforge.importers.imported import Imported, Operation, Resource
from backforge.importers.specwriter import render_spec
from backforge.names import (
    FIELD_NAME,
    RESOURCE_NAME,
    SERVICE_NAME,
    camel,
    identifier,
    pascal,
    service_name_problem,
    singular,
)
from backforge.spec.checks import LOOKUP_TYPES, account_clash

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
ACTIONS = {
    ("collection", "get"): "list",
    ("collection", "post"): "create",
    ("item", "get"): "read",
    ("item", "put"): "replace",
    ("item", "patch"): "update",
    ("item", "delete"): "delete",
}
PERMISSION_OF = {"replace": "update"}
ACCOUNT_NAMES = {"User": "Member"}  # what a resource the accounts' names clash with is called
JSON = "application/json"
BASE_PATH_SEGMENT = "abcdefghijklmnopqrstuvwxyz0123456789._-"


def import_contract(path: Path, *, service: str | None = None) -> Imported:
    """Read the contract at `path` and map it to a spec (checked before it is returned)."""
    contract = Contract(path)
    importer = _Importer(contract, service)
    text = importer.run()
    _check(text, path)
    info = contract.root.get("info") or {}
    return Imported(
        contract=path,
        version=contract.version,
        title=str(info.get("title") or ""),
        spec_text=text,
        operations=importer.operations,
        notes=importer.notes,
    )


class _Importer:
    def __init__(self, contract: Contract, service: str | None) -> None:
        self.contract = contract
        self.root = contract.root
        self.service = service
        self.operations: list[Operation] = []
        self.notes: list[str] = []
        self.resources: list[Resource] = []
        self.error_members: dict[str, str] | None = None
        self.error_media_type = "application/problem+json"
        self.list_shape = "page"
        self.shape_chosen: str | None = None
        self.schemes: dict[str, Any] = {}
        self.optional: list[tuple[Resource, str, bool]] = []  # optional fields, nullable?
        self.omit_nulls = False
        self.camel = False  # the contract's properties are camelCase
        self.pagination: dict[str, Any] = {}
        self.auth: dict[str, Any] | None = None

    # The pipeline

    def run(self) -> str:
        self._read_operations()
        base_path = self._base_path()
        self._read_errors()
        self._read_resources()
        self._read_security()
        if not self.resources:
            raise NothingToImportError(self.contract.path, self.operations)
        self._read_casing()
        for resource in list(self.resources):
            self._read_fields(resource)
            self._read_lookup(resource)
        self._read_nulls()
        for resource in self.resources:
            for op in resource.operations:
                self._read_operation(resource, op)
        return render_spec(
            source=self.contract.path.name,
            version=self.contract.version,
            service=self._service_info(),
            api=self._api(base_path),
            auth=self.auth,
            resources=self.resources,
            operations=self.operations,
            notes=self.notes,
        )

    def _read_operations(self) -> None:
        paths = self.root.get("paths") or {}
        if not isinstance(paths, dict):
            raise ImportRefusedError(
                f"{self.contract.where(self.contract.path, '/paths')}: a mapping"
            )
        for path, item in paths.items():
            pointer = "/paths/" + str(path).replace("~", "~0").replace("/", "~1")
            item, file, pointer = self.contract.resolve(item, self.contract.path, pointer)
            if not isinstance(item, dict):
                raise ImportRefusedError(
                    f"{self.contract.where(file, pointer)}: a path item is a mapping"
                )
            for method in METHODS:
                if isinstance(item.get(method), dict):
                    op = Operation(method, str(path), item[method], file, f"{pointer}/{method}")
                    op.body = {**op.body, "parameters": self._parameters(item, op.body, file)}
                    self.operations.append(op)
        for name in self.root.get("webhooks") or {}:
            op = Operation("webhook", str(name), {}, self.contract.path, f"/webhooks/{name}")
            op.refuse("a webhook is a request the service makes; outgoing events are not generated")
            self.operations.append(op)

    def _parameters(self, item: dict[str, Any], op: dict[str, Any], file: Path) -> list[Any]:
        found: dict[tuple[str, str], Any] = {}
        for source in (item.get("parameters") or [], op.get("parameters") or []):
            for raw in source:
                param, _, _ = self.contract.resolve(raw, file, "")
                if isinstance(param, dict):
                    found[(str(param.get("in")), str(param.get("name")))] = param
        return list(found.values())

    def _base_path(self) -> str:
        servers = self.root.get("servers") or [{}]
        server = servers[0] if isinstance(servers[0], dict) else {}
        url = str(server.get("url") or "")
        for name, variable in (server.get("variables") or {}).items():
            url = url.replace("{" + str(name) + "}", str((variable or {}).get("default", "")))
        path = urlsplit(url).path.rstrip("/")
        segments = [s for s in path.split("/") if s]
        if all(s and s[0].isalnum() and set(s) <= set(BASE_PATH_SEGMENT) for s in segments):
            return "/".join(["", *segments]) if segments else ""
        self.notes.append(f"the server path {path!r} is not a base path the spec can hold; none")
        return ""

    def _service_info(self) -> dict[str, Any]:
        info = self.root.get("info") or {}
        name = self.service or identifier(str(info.get("title") or "")) or "imported_service"
        name = name[:40].rstrip("_")
        if not SERVICE_NAME.match(name) or service_name_problem(name):
            name = f"{name[:31]}_service"
        result: dict[str, Any] = {"name": name}
        if info.get("title"):
            result["title"] = str(info["title"])
        result["version"] = str(info.get("version") or "0.1.0")
        if info.get("description"):
            result["description"] = " ".join(str(info["description"]).split())
        return result

    def _api(self, base_path: str) -> dict[str, Any]:
        api: dict[str, Any] = {"base_path": base_path}
        pagination = dict(self.pagination)
        if self.list_shape != "page":
            pagination["shape"] = self.list_shape
        if pagination:
            api["pagination"] = pagination
        errors: dict[str, Any] = {}
        if self.error_media_type != "application/problem+json":
            errors["media_type"] = self.error_media_type
        if self.error_members:
            errors["members"] = self.error_members
        if errors:
            api["errors"] = errors
        if self.camel:
            api["field_names"] = "camelCase"
        if self.omit_nulls:
            api["omit_nulls"] = True
        return api

    # Errors

    def _read_errors(self) -> None:
        """The error shape most error responses share: problem+json as it is, or a JSON object
        whose required members copy the problem's status, title and detail."""
        shapes: dict[str, tuple[str, Schema]] = {}
        for op in self.operations:
            for status, response in (op.body.get("responses") or {}).items():
                if not (str(status).startswith(("4", "5")) or status == "default"):
                    continue
                content = self._content(response, op)
                for media_type in content:
                    if media_type in (JSON, "application/problem+json"):
                        schema = self._media_schema(content[media_type], op, str(status))
                        if schema is not None and schema.type == "object":
                            shapes.setdefault(schema.pointer, (media_type, schema))
        if not shapes:
            return
        media_type, schema = next(iter(shapes.values()))
        self.error_media_type = media_type
        members: dict[str, str] = {}
        for name in sorted(schema.required):
            kind = self.contract.property(schema, name).type if name in schema.properties else None
            source = _problem_source(name, kind)
            if name in ("type", "title", "status", "detail", "instance"):
                continue
            if source is None:
                self.notes.append(
                    f"the error member {name!r} ({kind}) has no problem member to copy; errors "
                    "will not have it"
                )
                continue
            members[name] = source
        self.error_members = members or None
        if len(shapes) > 1:
            self.notes.append(
                f"errors have {len(shapes)} shapes in the contract; every error has the first "
                f"({self.contract.where(schema.file, schema.pointer)})"
            )

    # Security

    def _read_security(self) -> None:
        schemes = ((self.root.get("components") or {}).get("securitySchemes")) or {}
        self.schemes = {
            name: self.contract.resolve(s, self.contract.path, "")[0] for name, s in schemes.items()
        }
        if not any(self._security(op) for op in self._mapped()):
            return
        for resource in list(self.resources):
            if account_clash(resource.name, {"plural": resource.plural}):
                self._rename(resource, ACCOUNT_NAMES.get(resource.name, f"{resource.name}Record"))
            if clash := account_clash(resource.name, {"plural": resource.plural}):
                self._drop(resource, f"the service's accounts and {resource.name}: {clash}")
        if any(self._security(op) for op in self._mapped()):
            self.auth = {"users": True, "roles": ["admin", "member"]}
            kinds = {s.get("type") for s in self.schemes.values() if isinstance(s, dict)}
            if "apiKey" in kinds:
                self.auth["api_keys"] = True

    def _mapped(self) -> list[Operation]:
        return [op for op in self.operations if op.status != "not_mapped"]

    def _rename(self, resource: Resource, name: str) -> None:
        """A resource whose name the service's accounts take (User) gets another one."""
        if any(r.name == name for r in self.resources):
            return
        self.notes.append(f"{resource.name} is {name}: accounts take the name {resource.name}")
        for op in resource.operations:
            op.resource = name
        resource.name = name

    def _drop(self, resource: Resource, reason: str) -> None:
        self.resources.remove(resource)
        for op in resource.operations:
            if op.status != "not_mapped":
                op.refuse(reason)

    def _security(self, op: Operation) -> list[dict[str, Any]]:
        required = op.body.get("security", self.root.get("security") or [])
        return [r for r in required if isinstance(r, dict)] if isinstance(required, list) else []

    def _security_changes(self, op: Operation) -> None:
        requirements = self._security(op)
        if not requirements:
            return
        if any(not r for r in requirements):  # {} among them: anonymous access is allowed
            return
        usable = False
        for requirement in requirements:
            for name in requirement:
                scheme = self.schemes.get(name)
                if not isinstance(scheme, dict):
                    op.change(f"security scheme {name!r} is not declared")
                    continue
                kind = scheme.get("type")
                if kind == "http" and str(scheme.get("scheme", "")).lower() == "bearer":
                    usable = True
                elif kind == "apiKey" and scheme.get("in") == "header":
                    if str(scheme.get("name", "")).lower() == "x-api-key":
                        usable = True
                    else:
                        op.change(f"API keys are sent in X-API-Key, not {scheme.get('name')!r}")
                elif kind == "oauth2" and "password" in (scheme.get("flows") or {}):
                    usable = True
                    op.change("OAuth2 tokens come from the service's own {base}/auth/token")
                else:
                    op.change(f"security scheme {name!r} ({kind}) is answered with bearer tokens")
            if any(requirement[name] for name in requirement):
                op.change("scopes are not checked: any signed-in account may call it")
        if not usable:
            op.change("callers sign in with bearer tokens ({base}/auth/token) or X-API-Key")

    # Resources

    def _read_resources(self) -> None:
        by_path: dict[str, list[Operation]] = {}
        for op in self.operations:
            if op.status != "not_mapped":
                by_path.setdefault(op.path, []).append(op)
        items = {p for p in by_path if _item_of(p) is not None}
        collections = {_item_of(p) for p in items} | {
            p
            for p in by_path
            if "{" not in p and any(o.method in ("get", "post") for o in by_path[p])
        }
        taken: set[str] = set()
        for path in sorted(c for c in collections if c is not None):
            item = next((p for p in sorted(items) if _item_of(p) == path), None)
            ops = by_path.get(path, []) + (by_path.get(item, []) if item else [])
            segments = [s for s in path.split("/") if s]
            if len(segments) != 1 or "{" in path:
                for op in ops:
                    op.refuse(_why_not_a_resource(path, segments))
                continue
            plural = identifier(segments[0])
            if item is None and not self._lists_or_creates(ops):
                for op in ops:
                    op.refuse("a single object, not a collection of records")
                continue
            schema = self._resource_schema(ops)
            name = (
                schema.name if schema and schema.name and RESOURCE_NAME.match(schema.name) else ""
            )
            name = name or pascal(singular(plural))
            if not plural or not RESOURCE_NAME.match(name) or name in taken:
                for op in ops:
                    op.refuse(f"no resource name can be made of {path!r}")
                continue
            taken.add(name)
            resource = Resource(name, plural, path, item, ops, schema=schema)
            for op in ops:
                op.resource, op.action = (
                    name,
                    ACTIONS.get(("item" if op.path == item else "collection", op.method)),
                )
                if op.action is None:
                    where = "an item" if op.path == item else "a collection"
                    op.refuse(
                        f"{op.method.upper()} on {where} is not a create, read, update or delete"
                    )
            if plural != segments[0]:
                for op in ops:
                    op.change(f"served at /{plural}, not {path}")
            self.resources.append(resource)
        for op in self.operations:
            if op.status != "not_mapped" and op.resource is None:
                op.refuse(_why_not_a_resource(op.path))

    def _lists_or_creates(self, ops: list[Operation]) -> bool:
        for op in ops:
            if op.method == "post":
                return True
            schema = self._success_schema(op) if op.method == "get" else None
            if schema is not None and (schema.type == "array" or "items" in schema.properties):
                return True
        return False

    def _resource_schema(self, ops: list[Operation]) -> Schema | None:
        """The record's schema: what a read returns, else a list's items, else a create's body."""
        order = {("get", True): 0, ("get", False): 1, ("put", True): 2, ("post", False): 3}
        for op in sorted(ops, key=lambda o: order.get((o.method, "{" in o.path), 9)):
            schema = self._success_schema(op)
            if schema is not None and schema.type == "array" and "items" in schema.data:
                schema = self.contract.schema(
                    schema.data["items"], schema.file, f"{schema.pointer}/items"
                )
            if schema is not None and schema.type == "object" and schema.properties:
                return schema
            body = self._request_schema(op)
            if body is not None and body.type == "object" and body.properties:
                return body
        return None

    def _read_fields(self, resource: Resource) -> None:
        read = resource.schema
        written = [
            s
            for op in resource.operations
            if op.action in ("create", "replace") and (s := self._request_schema(op)) is not None
        ]
        mapper = FieldMapper(self.contract, {r.name for r in self.resources})
        create = written[0] if written else read
        names: dict[str, None] = {}
        for schema in (read, create):
            if schema is not None:
                names.update(dict.fromkeys(schema.properties))
        for prop in names:
            in_read = read is not None and prop in read.properties
            in_create = create is not None and prop in create.properties
            owner = read if in_read else create
            assert owner is not None
            mapped = mapper.field(owner, prop)
            if mapped.automatic:
                if mapped.change:
                    self._change_resource(resource, mapped.change)
                if in_create and mapped.name == "id" and create is not read:
                    self._change_action(resource, "create", "the id is assigned by the server")
                elif in_create and create is not None and prop in create.required:
                    self._change_action(resource, "create", f"{prop} is set by the server")
                continue
            name = mapped.name
            if not FIELD_NAME.match(name) or name in resource.fields:
                self._change_resource(resource, f"the property {prop!r} is not mapped")
                continue
            body = dict(mapped.body)
            required = in_create and create is not None and prop in create.required
            if required and "default" not in body:
                body["required"] = True
            if in_read and not in_create and create is not None and create is not read:
                body["read_only"] = True
            if in_create and not in_read and read is not None:
                body["write_only"] = True
            notes = []
            if name != prop and not (self.camel and camel(name) == prop):
                notes.append(f"{prop} in the contract")
                self._change_resource(resource, f"the property {prop!r} is {name!r}")
            if mapped.change:
                notes.append(mapped.change)
                self._change_resource(resource, f"{prop}: {mapped.change}")
            if notes:
                resource.comments[name] = "; ".join(notes)
            resource.fields[name] = body
            if not body.get("required") and "default" not in body:
                self.optional.append((resource, name, mapped.nullable))
        if not resource.fields:
            self._drop(resource, "no field of the record could be read from the contract")
            return
        if read is not None and read.data.get("additionalProperties") is False:
            self._change_resource(resource, "records also carry created_at, updated_at and version")

    def _read_lookup(self, resource: Resource) -> None:
        """An item path named by a field of the record (`/users/{username}`): that field is the
        resource's `lookup`, unique and required."""
        if resource.item is None or resource not in self.resources:
            return
        param = resource.item.rsplit("{", 1)[1].rstrip("}")
        name = param if FIELD_NAME.match(param) else identifier(param)
        body = resource.fields.get(name)
        if body is None or body.get("type") not in (*LOOKUP_TYPES, "text"):
            return
        resource.lookup = name
        if body["type"] == "text":  # unbounded text cannot be unique: a string of the default
            body["type"] = "string"
            self._change_resource(resource, f"{name} is at most 255 characters (it names records)")
        body.pop("default", None)
        if not body.get("required"):
            self._change_action(resource, "create", f"{name} is required (it names the record)")
        body.update(required=True, unique=True)
        body.pop("read_only", None)
        body.pop("write_only", None)

    def _read_casing(self) -> None:
        """camelCase on the wire when the records' properties are written so (and none is
        snake_case of more than one word)."""
        names: set[str] = set()
        for resource in self.resources:
            schemas = [resource.schema, *map(self._request_schema, resource.operations)]
            for schema in schemas:
                names |= set(schema.properties) if schema is not None else set()
        names -= {"id", "version"}
        camel_names = {n for n in names if n != identifier(n) and camel(identifier(n)) == n}
        snake_names = {n for n in names if "_" in n and FIELD_NAME.match(n)}
        self.camel = bool(camel_names) and not snake_names

    def _read_nulls(self) -> None:
        """Optional properties that may not be null: the service leaves them out instead
        (`omit_nulls`), unless some other optional property is nullable."""
        nullable = [(r, name) for r, name, allowed in self.optional if allowed]
        if not self.optional or len(nullable) == len(self.optional):
            return
        if not nullable:
            self.omit_nulls = True
            return
        for resource, name, allowed in self.optional:
            if not allowed and resource in self.resources:
                self._change_resource(resource, f"{name} is null when it has no value")

    def _change_resource(self, resource: Resource, reason: str) -> None:
        for op in resource.operations:
            if op.status != "not_mapped":
                op.change(reason)

    def _change_action(self, resource: Resource, action: str, reason: str) -> None:
        for op in resource.operations:
            if op.action == action and op.status != "not_mapped":
                op.change(reason)

    # Operations

    def _read_operation(self, resource: Resource, op: Operation) -> None:
        if op.status == "not_mapped":
            return
        self._security_changes(op)
        permission = PERMISSION_OF.get(op.action or "", op.action or "")
        if self.auth is not None:
            who = "authenticated" if self._security(op) and all(self._security(op)) else "anyone"
            if resource.permissions.get(permission, who) != who:
                op.change(f"{permission} is open to {resource.permissions[permission]}")
            resource.permissions.setdefault(permission, who)
        statuses = {str(s) for s in (op.body.get("responses") or {})}
        has_default = "default" in statuses
        expected = {
            "list": "200",
            "create": "201",
            "read": "200",
            "replace": "200",
            "update": "200",
            "delete": "204",
        }[op.action or "read"]
        success = sorted(s for s in statuses if s.startswith("2"))
        if success and expected not in success:
            op.change(f"answers {expected}, the contract says {', '.join(success)}")
        if not has_default:
            ours = {"422"} if op.action in ("list", "create", "replace", "update") else set()
            if op.path == resource.item:
                ours |= {"404", "422"}
            missing = sorted(s for s in ours if s not in statuses and s[0] + "XX" not in statuses)
            if missing:
                op.change(f"also answers {', '.join(missing)}, which the contract does not list")
        if op.action in ("create", "replace", "update"):
            content = self._content(op.body.get("requestBody") or {}, op)
            if content and JSON not in content:
                op.change(f"takes application/json, not {', '.join(sorted(content))}")
        if op.path == resource.item:
            self._read_item_parameter(resource, op)
        if op.action == "list":
            self._read_list(resource, op)

    def _read_item_parameter(self, resource: Resource, op: Operation) -> None:
        if resource.lookup is not None:
            return
        name = op.path.rsplit("{", 1)[1].rstrip("}")
        for param in op.body["parameters"]:
            if param.get("in") == "path" and param.get("name") == name:
                schema = self.contract.schema(param.get("schema") or {}, op.file, op.pointer)
                if schema.type != "integer":
                    op.change(f"{{{name}}} is the record's integer id")

    def _read_list(self, resource: Resource, op: Operation) -> None:
        schema = self._success_schema(op)
        if schema is not None and schema.type == "array":
            shape = "array"
        elif schema is not None and schema.type == "object" and "items" in schema.properties:
            shape = "page"
        else:
            shape = None
            op.change("the list answers {items, next_cursor, limit}, not the contract's shape")
        if shape is not None:
            if self.shape_chosen is None:
                self.shape_chosen = self.list_shape = shape
            elif self.shape_chosen != shape:
                op.change(f"lists are {self.shape_chosen}s in this service")
        for param in op.body["parameters"]:
            where, name = param.get("in"), str(param.get("name"))
            if where != "query":
                if where == "header":
                    op.change(f"the header {name!r} is not read")
                continue
            spec = self.contract.schema(param.get("schema") or {}, op.file, op.pointer)
            if name == "limit":
                self._read_limit(spec)
            elif name in resource.fields and resource.fields[name].get("type") not in ("json",):
                if name not in resource.filters:
                    resource.filters.append(name)
                if spec.type == "array":
                    op.change(f"?{name}= takes one value; several are ?{name}__in=a,b")
            elif (field := singular(identifier(name))) in resource.fields:
                if field not in resource.filters and resource.fields[field].get("type") != "json":
                    resource.filters.append(field)
                op.change(f"?{name}= is ?{field}= (one value) or ?{field}__in=a,b")
            elif name in ("offset", "cursor"):
                style = self.pagination.setdefault("style", name)
                if style != name:
                    op.change(f"?{name}= is not how lists page here (?{style}=)")
            else:
                op.change(f"the query parameter {name!r} is not understood")
            if param.get("required"):
                op.change(f"?{name}= is optional here")

    def _read_limit(self, schema: Schema) -> None:
        maximum = schema.data.get("maximum")
        if isinstance(maximum, int) and 1 <= maximum <= 1000:
            self.pagination["max_limit"] = maximum
        default = schema.data.get("default")
        if isinstance(default, int) and 1 <= default <= self.pagination.get("max_limit", 100):
            self.pagination["default_limit"] = default

    # Reading responses and bodies

    def _content(self, node: Any, op: Operation) -> dict[str, Any]:
        node, _, _ = self.contract.resolve(node, op.file, op.pointer)
        content = node.get("content") if isinstance(node, dict) else None
        return content if isinstance(content, dict) else {}

    def _media_schema(self, media: Any, op: Operation, where: str) -> Schema | None:
        if not isinstance(media, dict) or "schema" not in media:
            return None
        return self.contract.schema(media["schema"], op.file, f"{op.pointer}/{where}")

    def _success_schema(self, op: Operation) -> Schema | None:
        for status, response in sorted((op.body.get("responses") or {}).items()):
            if str(status).startswith("2"):
                content = self._content(response, op)
                if JSON in content:
                    return self._media_schema(content[JSON], op, f"responses/{status}")
        return None

    def _request_schema(self, op: Operation) -> Schema | None:
        content = self._content(op.body.get("requestBody") or {}, op)
        if JSON in content:
            return self._media_schema(content[JSON], op, "requestBody")
        return None


class NothingToImportError(ImportRefusedError):
    """No operation of the contract reads or writes a collection of records."""

    def __init__(self, path: Path, operations: list[Operation]) -> None:
        lines = [
            f"{path}: no operation maps to a resource (a collection /{{plural}} and its items "
            "/{plural}/{id}), so there is no spec to write; what each operation is:"
        ]
        lines += [f"  {op.key}: {'; '.join(op.reasons)}" for op in operations]
        lines.append(
            "Write the spec by hand (backforge init), or import a contract with resources."
        )
        super().__init__("\n".join(lines))


def _problem_source(name: str, kind: str | None) -> str | None:
    if kind == "integer":
        return "status"
    if kind == "string":
        return "title" if name in ("error", "title", "reason") else "detail"
    return None


def _item_of(path: str) -> str | None:
    """The collection path of an item path (`/pets/{petId}` → `/pets`), else None."""
    parent, _, last = path.rpartition("/")
    if last.startswith("{") and last.endswith("}") and last.count("{") == 1 and parent:
        return parent
    return None


def _why_not_a_resource(path: str, segments: list[str] | None = None) -> str:
    if path == "/":
        return "the root is not a collection"
    if segments and "{" in path:
        return "a nested collection: every resource is served at {base}/{plural}"
    if segments:
        return f"{path} is more than one segment: every resource is served at {{base}}/{{plural}}"
    if path.count("{") > 1 or (path.count("{") == 1 and _item_of(path) is None):
        return "its path parameters do not name one record of a collection"
    return "not a collection or an item of one (a singleton or a custom action)"


def _check(text: str, contract: Path) -> None:
    """The spec an import writes must validate: a failure here is backforge's own bug."""
    from backforge.errors import BackforgeError, SpecError
    from backforge.spec import load_spec_text

    try:
        load_spec_text(text, file=f"<spec imported from {contract.name}>")
    except SpecError as exc:
        raise BackforgeError(
            f"the spec imported from {contract} does not validate (a backforge bug; please "
            f"report it with the contract):\n{exc}"
        ) from None
