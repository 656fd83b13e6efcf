"""Reading and validating catalog files, one file at a time.

Each file is validated on its own (schema, units, method rules) so its result
can be cached by content hash; checks that need the whole catalog (sources,
references, duplicate ids) live in `crosscheck`.
"""

from __future__ import annotations

import difflib
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from mlsysim.catalog.schemas import KINDS, CitedValue, Kind, references
from provenance.model import Source
from provenance.problems import Problem
from provenance.yamlio import Located, read_located

RECORD_MAX_BYTES = 1024 * 1024  # one record is a few kilobytes


def kind_of(relative: str) -> Kind | None:
    """The kind whose directory holds this catalog-relative path."""
    for kind in sorted(KINDS.values(), key=lambda k: -len(k.directory)):
        if relative.startswith(kind.directory + "/"):
            return kind
    return None


def kind_directories() -> str:
    return ", ".join(f"{k.directory}/" for k in KINDS.values())


# ---------------------------------------------------------------- one record


def validate_record_file(path: Path, relative: str, data: bytes | None = None) -> tuple[dict[str, Any] | None, list[Problem]]:
    """Validate one record file (`data`: its bytes, when the caller already read and hashed
    them). Returns the normalized record (plain data) and its problems."""
    kind = kind_of(relative)
    if kind is None:
        return None, [Problem(relative, 1, 1, "", f"not in a record directory; move it under one of {kind_directories()}")]
    located, problems = read_located(path, relative, data, max_bytes=RECORD_MAX_BYTES)
    if located is None:
        return _invalid_stub(kind, {"id": Path(relative).stem}), problems
    if not isinstance(located.data, dict):
        return None, [Problem(relative, 1, 1, "", "a record file must be a mapping of fields; start with 'id: <name>'")]
    try:
        record = kind.schema.model_validate(located.data)
    except ValidationError as exc:
        return _invalid_stub(kind, located.data), translate_errors(exc, located, kind.schema)
    return _normalize(record, kind, relative, located), _placement_problems(record, kind, relative, located)


def _invalid_stub(kind: Kind, data: dict[str, Any]) -> dict[str, Any] | None:
    """A record that exists but failed validation: others may still name it
    without a second, misleading "no such record" problem."""
    ident = data.get("id")
    return {"kind": kind.name, "id": ident, "invalid": True} if isinstance(ident, str) else None


def _placement_problems(record: BaseModel, kind: Kind, relative: str, located: Located) -> list[Problem]:
    problems = []
    stem = Path(relative).stem
    if record.id != stem:
        problems.append(located.problem(["id"], f"id {record.id!r} differs from the file name; rename the file to {record.id}.yaml or set 'id: {stem}'"))
    if kind.group_field:
        group = getattr(record, kind.group_field)
        parts = relative.split("/")
        expected_dir = "/".join([kind.directory, group])
        if len(parts) < 3 or "/".join(parts[:-1]) != expected_dir:
            problems.append(located.problem([kind.group_field], f"{kind.group_field} is {group!r} but the file is not in {expected_dir}/; move it there or fix '{kind.group_field}'"))
    return problems


def _normalize(record: BaseModel, kind: Kind, relative: str, located: Located) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    claims: dict[str, dict[str, Any]] = {}
    _collect(record, [], fields, claims)
    positions = {"id": located.position(["id"])}
    for path in claims:
        positions[path] = located.position(path.split("."))
    refs = {}
    for field, target in references(type(record)).items():
        value = getattr(record, field)
        if value is not None:
            refs[field] = (target, value)
            positions[field] = located.position([field])
    for i, _alias in enumerate(record.aliases):
        positions[f"aliases.{i}"] = located.position(["aliases", i])
    return {
        "kind": kind.name,
        "id": record.id,
        "file": relative,
        "name": record.name,
        "aliases": list(record.aliases),
        "group": getattr(record, kind.group_field) if kind.group_field else None,
        "fields": fields,
        "claims": claims,
        "positions": positions,
        "refs": refs,
    }


def _collect(node: Any, prefix: list[str], fields: dict[str, Any], claims: dict[str, dict[str, Any]]) -> None:
    """Split a validated record into plain fields (nested) and claims (flat, by dotted path)."""
    items = node.__dict__.items() if isinstance(node, BaseModel) else node.items()
    for name, value in items:
        path = [*prefix, str(name)]
        if value is None:
            continue
        if isinstance(value, CitedValue):
            claim = value.model_dump(exclude_none=True, exclude_defaults=True, by_alias=True)
            claim.update(value=value.value, unit=value.unit, source=value.source, si=value.si, dimension=value.dimension)
            claims[".".join(path)] = claim
        elif isinstance(value, (BaseModel, dict)):
            child: dict[str, Any] = {}
            _collect(value, path, child, claims)
            if child:
                fields[str(name)] = child
        else:
            fields[str(name)] = value


# ---------------------------------------------------------------- sources


def validate_sources_file(path: Path, relative: str, data: bytes | None = None) -> tuple[dict[str, dict[str, Any]], dict[str, tuple[int, int]], list[Problem]]:
    """Validate sources.yaml: a mapping of source id -> source."""
    if data is None and not path.is_file():
        return {}, {}, [Problem(relative, 1, 1, "", "the catalog has no sources.yaml; create it with the cited documents, keyed by id")]
    located, problems = read_located(path, relative, data)
    if located is None:
        return {}, {}, problems
    if not isinstance(located.data, dict):
        return {}, {}, [Problem(relative, 1, 1, "", "sources.yaml must map source ids to sources")]
    sources, positions = {}, {}
    for source_id, body in located.data.items():
        positions[str(source_id)] = located.position([source_id], key=True)
        try:
            source = Source.model_validate(body)
        except ValidationError as exc:
            problems += translate_errors(exc, located, Source, prefix=[source_id])
            continue
        if source.path is not None and not (path.parent / source.path).is_file():
            line, col = located.position([source_id, "path"])
            problems.append(Problem(relative, line, col, f"{source_id}.path", f"no file {source.path} in the catalog; the "
                                    "path is relative to the catalog's root (the folder holding sources.yaml)"))
        sources[str(source_id)] = source.model_dump(mode="json", exclude_none=True, by_alias=True)
    return sources, positions, problems


# ---------------------------------------------------------------- pydantic errors -> problems


def translate_errors(exc: ValidationError, located: Located, schema: type[BaseModel], prefix: list[Any] | None = None) -> list[Problem]:
    """Every pydantic error as a Problem, except a "missing" field that a
    misspelt key already explains ("unknown 'regoin'; did you mean 'region'?")."""
    problems = [_translate(err, located, schema, prefix) for err in exc.errors()]
    explained = {
        (p.field.rsplit(".", 1)[0] if "." in p.field else "", p.message.split("did you mean ")[1].strip("'?"))
        for p in problems
        if "did you mean" in p.message and p.message.startswith("unknown field")
    }
    def is_explained(p: Problem) -> bool:
        parent, _, name = p.field.rpartition(".")
        return p.message.startswith("required field") and (parent, name) in explained
    return [p for p in problems if not is_explained(p)]


def _translate(err: dict[str, Any], located: Located, schema: type[BaseModel], prefix: list[Any] | None = None) -> Problem:
    """One pydantic error -> `file:line:col: field.path: problem; fix`."""
    loc: list[Any] = [*(prefix or []), *err["loc"]]
    kind, message = err["type"], err["msg"]
    model_loc = loc[len(prefix or []):]
    on_key = False
    if "[key]" in loc:
        loc = [s for s in loc if s != "[key]"]
        on_key = True
    if kind in ("value_error", "assertion_error"):
        message = str(err["ctx"]["error"]) if "ctx" in err else message.removeprefix("Value error, ")
        if message.startswith("@"):
            field, message = message[1:].split(": ", 1)
            loc += field.split(".")
        elif _is_claim_check(message):
            loc.append("value" if message.startswith("must") else "unit")
    elif kind == "extra_forbidden":
        on_key = True
        valid = _field_names(schema, model_loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), valid, n=1, cutoff=0.5)
        message = f"unknown field {loc[-1]!r}; " + (f"did you mean {close[0]!r}?" if close else f"valid fields: {', '.join(valid)}")
    elif kind == "missing":
        message = f"required field {loc[-1]!r} is missing; add it"
    elif kind in ("literal_error", "enum"):
        choices = err.get("ctx", {}).get("expected", "")
        what = "key" if on_key else "value"
        message = f"{what} {err.get('input')!r} is not allowed; use one of {choices}"
    elif kind in ("model_type", "model_attributes_type", "dict_type") and isinstance(err.get("input"), (int, float)):
        message = f"a bare number ({err['input']}) has no citation; write {{value: {err['input']}, unit: ..., source: <id in sources.yaml>}}"
    elif kind in ("float_type", "float_parsing", "int_type", "int_parsing"):
        message = f"{err.get('input')!r} is not a number; write the number without quotes or units"
    elif kind == "string_pattern_mismatch":
        fix = _PATTERN_FIXES.get(err["ctx"]["pattern"], f"it must match {err['ctx']['pattern']}")
        message = f"{err.get('input')!r} has the wrong form; {fix}"
    else:
        message = f"{message[0].lower()}{message[1:]}"
    return located.problem(loc, message, key=on_key)


_PATTERN_FIXES = {
    "^https?://": "write an http:// or https:// URL",
    "^[a-z0-9][a-z0-9_]*$": "use lower-case letters, digits and underscores, e.g. 'h100_sxm'",
    "^env:[A-Z][A-Z0-9_]*$": "name an environment variable, e.g. 'env:ELECTRICITYMAPS_TOKEN' (never the key itself)",
    r"^v\d+$": "write the arXiv version you read, e.g. 'v2'",
    r"^\d{4}\.\d{4,5}$": "write the arXiv id, e.g. '2302.13971'",
}


def _is_claim_check(message: str) -> bool:
    return message.startswith(("must be", "must not")) or " is not a" in message or message.startswith("unknown unit")


def _field_names(schema: type[BaseModel], loc: list[Any]) -> list[str]:
    """Valid field names of the (sub)model reached by following loc from schema."""
    current: Any = schema
    for step in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            info = current.model_fields.get(str(step))
            if info is None:
                return []
            current = info.annotation
        elif typing.get_origin(current) is dict:
            current = typing.get_args(current)[1]
        else:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [info.alias or name for name, info in current.model_fields.items()]
    return []


def _unwrap(tp: Any) -> Any:
    """Strip Annotated and Optional from a type."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp
