"""GitHub's own REST contract (the cut-down OpenAPI in tests/fixtures/github) as request and response checks.

The OpenAPI 3.0 description is turned into JSON Schema 2020-12 (``nullable: true`` becomes a
``null`` type) and every ``$ref`` resolves inside the document through a ``referencing`` registry.
``Contract.route`` finds the operation for a method and path; ``request_problems`` and
``response_problems`` return what breaks the contract, as plain sentences (empty when all is well).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from support.paths import GITHUB_CONTRACT

OPENAPI_FILE = GITHUB_CONTRACT / "rest-subset.openapi.json"
ERROR_EXAMPLES_FILE = GITHUB_CONTRACT / "error-examples.json"
EVENTS_DIR = GITHUB_CONTRACT / "events"
_URI = "urn:int8gate:github-rest-subset"

# Statuses GitHub may answer on any operation whether or not the description lists them there; such
# answers are held to GitHub's generic error shape (basic-error).
ANY_OPERATION_STATUSES = frozenset({401, 403, 404, 429, 500, 502, 503, 504})

FORMATS = jsonschema.FormatChecker(formats=())


def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", value):
        return False
    datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


def _is_uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    split = urlsplit(value)
    return bool(split.scheme and (split.netloc or split.path))


FORMATS.checks("date-time", raises=ValueError)(_is_date_time)
FORMATS.checks("uri")(_is_uri)


@dataclass(frozen=True)
class Operation:
    """One operation of the description: where it lives in the document and how to match a path."""

    method: str
    template: str
    operation_id: str
    pointer: str
    pattern: re.Pattern[str]


@dataclass(frozen=True)
class Route:
    """A request matched to its operation, with the raw path parameters."""

    operation: Operation
    path_params: Mapping[str, str]


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _openapi_to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema dialect → JSON Schema: ``nullable: true`` admits ``null``."""
    if isinstance(node, list):
        return [_openapi_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _openapi_to_json_schema(value) for key, value in node.items()}
    if out.pop("nullable", False) is True:
        kind = out.get("type")
        if isinstance(kind, str):
            out["type"] = [kind, "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        else:
            return {"anyOf": [out, {"type": "null"}]}
    return out


class Contract:
    """The REST subset, ready to check requests and responses."""

    def __init__(self, path: Path = OPENAPI_FILE) -> None:
        raw = json.loads(path.read_text(encoding="utf-8"))
        self.document: dict[str, Any] = _openapi_to_json_schema(raw)
        resource = Resource.from_contents(self.document, default_specification=DRAFT202012)
        self._registry: Registry[Any] = Registry().with_resource(_URI, resource)
        self.operations: list[Operation] = []
        self._validators: dict[str, Any] = {}
        for template, item in self.document["paths"].items():
            regex = re.sub(r"\\\{([a-z_]+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
            for method, op in item.items():
                self.operations.append(
                    Operation(
                        method.upper(),
                        template,
                        op["operationId"],
                        f"/paths/{_escape(template)}/{method}",
                        re.compile(f"^{regex}$"),
                    )
                )

    # -- document access --------------------------------------------------------------------------

    def _raw(self, pointer: str) -> Any:
        current: Any = self.document
        for token in pointer.strip("/").split("/") if pointer.strip("/") else []:
            key = token.replace("~1", "/").replace("~0", "~")
            current = current[int(key)] if isinstance(current, list) else current[key]
        return current

    def _deref_pointer(self, pointer: str) -> str:
        """The pointer itself, or where its ``$ref`` chain ends."""
        raw = self._raw(pointer)
        while isinstance(raw, dict) and "$ref" in raw:
            pointer = str(raw["$ref"]).removeprefix("#")
            raw = self._raw(pointer)
        return pointer

    def node(self, pointer: str) -> Any:
        """The document node at a JSON pointer, following a ``$ref`` there."""
        return self._raw(self._deref_pointer(pointer))

    def schema_problems(self, pointer: str, instance: Any) -> list[str]:
        """Why ``instance`` does not match the schema at ``pointer`` (empty list when it does)."""
        validator = self._validators.get(pointer)
        if validator is None:
            validator = jsonschema.Draft202012Validator(
                {"$ref": f"{_URI}#{pointer}"}, registry=self._registry, format_checker=FORMATS
            )
            self._validators[pointer] = validator
        problems = []
        for error in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path)):
            where = "/".join(str(p) for p in error.absolute_path) or "(root)"
            problems.append(f"{where}: {error.message[:300]}")
        return problems

    # -- routing ----------------------------------------------------------------------------------

    def route(self, method: str, path: str) -> Route | None:
        """The operation serving ``method path``, or None if the contract has none."""
        for op in self.operations:
            match = op.pattern.match(path)
            if match and op.method == method:
                return Route(op, match.groupdict())
        return None

    def parameters(self, operation: Operation) -> list[tuple[dict[str, Any], str]]:
        """Each parameter object with the pointer to its schema."""
        out = []
        for index, _ in enumerate(self.node(f"{operation.pointer}/parameters")):
            pointer = self._deref_pointer(f"{operation.pointer}/parameters/{index}")
            out.append((self.node(pointer), f"{pointer}/schema"))
        return out

    # -- requests ---------------------------------------------------------------------------------

    def request_problems(
        self, route: Route, query: Mapping[str, list[str]], content_type: str, body: bytes
    ) -> tuple[list[str], Any]:
        """Contract problems of a request, and its JSON body (None when it has none)."""
        op = route.operation
        problems: list[str] = []
        known_query = set()
        for param, schema_pointer in self.parameters(op):
            name, where = param["name"], param["in"]
            if where == "path":
                problems += self._value_problems(name, route.path_params.get(name), schema_pointer, True)
            elif where == "query":
                known_query.add(name)
                values = query.get(name)
                if values is not None and len(values) != 1:
                    problems.append(f"query parameter {name} given {len(values)} times")
                value = values[0] if values else None
                problems += self._value_problems(name, value, schema_pointer, param.get("required", False))
        problems += [f"query parameter {name} is not in the contract" for name in set(query) - known_query]
        op_node = self.node(op.pointer)
        if "requestBody" not in op_node:
            if body:
                problems.append(f"{op.operation_id} takes no request body, got {len(body)} bytes")
            return problems, None
        if not content_type.startswith("application/json"):
            problems.append(f"request body content type is {content_type!r}, not application/json")
        try:
            data = json.loads(body.decode("utf-8")) if body else None
        except (UnicodeDecodeError, json.JSONDecodeError):
            return [*problems, "request body is not JSON"], None
        if data is None and op_node["requestBody"].get("required"):
            return [*problems, "request body is required"], None
        pointer = f"{op.pointer}/requestBody/content/application~1json/schema"
        problems += [f"request body {p}" for p in self.schema_problems(pointer, data)]
        return problems, data

    def _value_problems(self, name: str, raw: str | None, schema_pointer: str, required: bool) -> list[str]:
        if raw is None:
            return [f"parameter {name} is required"] if required else []
        schema = self.node(schema_pointer)
        value: Any = raw
        if schema.get("type") == "integer":
            if not re.fullmatch(r"-?\d+", raw):
                return [f"parameter {name}={raw!r} is not an integer"]
            value = int(raw)
        return [f"parameter {name}: {p}" for p in self.schema_problems(schema_pointer, value)]

    # -- responses --------------------------------------------------------------------------------

    def response_problems(
        self, operation: Operation | None, status: int, headers: Mapping[str, str], body: Any
    ) -> list[str]:
        """Contract problems of a response (``operation`` None: judge by the generic error shape)."""
        responses = self.node(f"{operation.pointer}/responses") if operation else {}
        if str(status) in responses:
            pointer = self._deref_pointer(f"{operation.pointer}/responses/{status}") if operation else ""
        elif status in ANY_OPERATION_STATUSES:
            return [f"error body {p}" for p in self.schema_problems("/components/schemas/basic-error", body)]
        else:
            name = operation.operation_id if operation else "this request"
            return [f"status {status} is not a documented answer of {name}"]
        response = self.node(pointer)
        problems = []
        lowered = {k.lower(): v for k, v in headers.items()}
        for header, spec in response.get("headers", {}).items():
            value = lowered.get(header.lower())
            schema = self.node(spec["$ref"].removeprefix("#")) if "$ref" in spec else spec
            if value is not None and schema["schema"].get("type") == "integer" and not value.isdigit():
                problems.append(f"header {header}={value!r} is not an integer")
        content = response.get("content", {}).get("application/json")
        if content is None:
            return [*problems, *(["a bodiless response has a body"] if body is not None else [])]
        schema_pointer = f"{pointer}/content/application~1json/schema"
        return [*problems, *(f"response body {p}" for p in self.schema_problems(schema_pointer, body))]
