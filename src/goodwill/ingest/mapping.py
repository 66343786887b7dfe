"""Declarative source mappings: which source column becomes which model field.

A mapping is YAML::

    name: cfpb
    title: CFPB consumer complaints
    format: csv
    source: cfpb                      # the system the facts come from
    records:                          # one source row may give several facts
      - table: cases
        when: {column: Complaint ID, not_empty: true}
        fields:
          case_id: {template: "cfpb:{Complaint ID}"}
          opened_at: {column: Date received, type: timestamp, tz: America/New_York}
          timely: {column: Timely response?, type: bool}
          status: {value: closed}

A field is ``{column: X}`` (or just ``X``), ``{template: "..{X}.."}`` or
``{value: constant}``, with optional ``type`` (text, int, float, money, bool,
timestamp, date, json), ``format`` (strptime formats, one or a list), ``tz`` (the
zone of timestamps that carry none), ``map`` (source value → stored value),
``default``, ``required`` and ``on_error`` (``quarantine``, the default, sends the
row to quarantine; ``null`` stores nothing for that field).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from goodwill.errors import MappingError
from goodwill.model import TABLES, get_table

FIELD_TYPES = ("text", "int", "float", "money", "bool", "timestamp", "date", "json")
_TEMPLATE_REF = re.compile(r"\{([^{}]+)\}")
_FIELD_KEYS = {"column", "template", "value", "type", "format", "tz", "map", "default", "required", "on_error", "null_if", "columns", "decimal", "lower", "strip_prefix"}
_RECORD_KEYS = {"table", "when", "fields"}
_WHEN_KEYS = {"column", "equals", "not_equals", "in", "not_empty", "empty"}
_MAPPING_KEYS = {"name", "title", "description", "format", "source", "delimiter", "encoding", "records", "after", "attribution", "licence", "timezone"}


@dataclass(frozen=True)
class FieldSpec:
    target: str
    column: str | None = None
    template: str | None = None
    value: Any = None
    columns: tuple[str, ...] = ()
    type: str = "text"
    formats: tuple[str, ...] = ()
    tz: str | None = None
    map: dict[str, Any] | None = None
    default: Any = None
    required: bool = False
    on_error: str = "quarantine"
    null_if: tuple[str, ...] = ("",)
    decimal: str = "."
    lower: bool = False

    def source_columns(self) -> list[str]:
        if self.column is not None:
            return [self.column]
        if self.template is not None:
            return [ref.partition(":")[0] for ref in _TEMPLATE_REF.findall(self.template)]
        return list(self.columns)


@dataclass(frozen=True)
class Condition:
    column: str
    equals: str | None = None
    not_equals: str | None = None
    in_: tuple[str, ...] | None = None
    not_empty: bool | None = None
    empty: bool | None = None


@dataclass(frozen=True)
class RecordSpec:
    table: str
    fields: dict[str, FieldSpec]
    when: tuple[Condition, ...] = ()


@dataclass(frozen=True)
class Mapping:
    name: str
    records: tuple[RecordSpec, ...]
    title: str = ""
    description: str = ""
    format: str | None = None
    source: str = ""
    delimiter: str | None = None
    encoding: str = "utf-8"
    timezone: str = "UTC"
    after: tuple[str, ...] = ()
    attribution: str = ""
    origin: str = ""

    def required_columns(self) -> list[str]:
        cols: dict[str, None] = {}
        for r in self.records:
            for c in r.when:
                cols[c.column] = None
            for f in r.fields.values():
                cols.update(dict.fromkeys(f.source_columns()))
        return list(cols)

    def check_columns(self, available: list[str], source_name: str) -> None:
        """Fail before anything is written when the source lacks a column the mapping names."""
        have = set(available)
        missing = [c for c in self.required_columns() if c not in have]
        if missing:
            shown = ", ".join(repr(c) for c in available[:40])
            more = f" (and {len(available) - 40} more)" if len(available) > 40 else ""
            raise MappingError(
                f"Mapping {self.name!r} names column(s) {', '.join(repr(m) for m in missing)} that {source_name} does not have.",
                hint=f"Its columns are: {shown}{more}. Fix the mapping or pick another with --mapping.",
            )


def _err(origin: str, where: str, msg: str, hint: str | None = None) -> MappingError:
    return MappingError(f"Mapping {origin}: {where}: {msg}", hint=hint)


def _as_str_tuple(v: Any) -> tuple[str, ...]:
    if v is None:
        return ()
    if isinstance(v, list | tuple):
        return tuple(str(x) for x in v)
    return (str(v),)


def _parse_field(origin: str, table: str, target: str, raw: Any, default_tz: str) -> FieldSpec:
    where = f"{table}.{target}"
    t = get_table(table)
    if not t.has_column(target):
        raise _err(origin, where, f"table {table!r} has no column {target!r}", f"Its columns are: {', '.join(t.column_names)}.")
    col_type = t.column(target).type
    if isinstance(raw, str):
        raw = {"column": raw}
    elif not isinstance(raw, dict):
        raw = {"value": raw}
    unknown = set(raw) - _FIELD_KEYS
    if unknown:
        raise _err(origin, where, f"unknown key(s) {', '.join(sorted(unknown))}", f"A field takes: {', '.join(sorted(_FIELD_KEYS))}.")
    sources = [k for k in ("column", "template", "value", "columns") if k in raw]
    if len(sources) != 1:
        raise _err(origin, where, "give exactly one of column, template, value or columns", None)
    ftype = str(raw.get("type", "json" if "columns" in raw else ("float" if col_type == "float" else col_type)))
    if ftype not in FIELD_TYPES:
        raise _err(origin, where, f"unknown type {ftype!r}", f"Types: {', '.join(FIELD_TYPES)}.")
    on_error = str(raw.get("on_error", "quarantine"))
    if on_error not in ("quarantine", "null"):
        raise _err(origin, where, f"on_error must be 'quarantine' or 'null', not {on_error!r}")
    mp = raw.get("map")
    if mp is not None and not isinstance(mp, dict):
        raise _err(origin, where, "map must be a dictionary of source value → stored value")
    template = raw.get("template")
    if template is not None and not _TEMPLATE_REF.search(str(template)):
        raise _err(origin, where, f"template {template!r} names no column", "Write columns in braces: \"cfpb:{Complaint ID}\".")
    return FieldSpec(
        target=target,
        column=str(raw["column"]) if "column" in raw else None,
        template=str(template) if template is not None else None,
        value=raw.get("value"),
        columns=_as_str_tuple(raw.get("columns")),
        type=ftype,
        formats=_as_str_tuple(raw.get("format")),
        tz=str(raw.get("tz", default_tz)),
        map={str(k): v for k, v in mp.items()} if mp else None,
        default=raw.get("default"),
        required=bool(raw.get("required", False)),
        on_error=on_error,
        null_if=_as_str_tuple(raw.get("null_if", [""])),
        decimal=str(raw.get("decimal", ".")),
        lower=bool(raw.get("lower", False)),
    )


def _parse_when(origin: str, table: str, raw: Any) -> tuple[Condition, ...]:
    if raw is None:
        return ()
    items = raw if isinstance(raw, list) else [raw]
    out = []
    for item in items:
        if not isinstance(item, dict) or "column" not in item:
            raise _err(origin, f"{table}.when", "a condition is {column: X, equals|not_equals|in|not_empty|empty: ...}")
        unknown = set(item) - _WHEN_KEYS
        if unknown:
            raise _err(origin, f"{table}.when", f"unknown key(s) {', '.join(sorted(unknown))}")
        out.append(
            Condition(
                column=str(item["column"]),
                equals=str(item["equals"]) if "equals" in item else None,
                not_equals=str(item["not_equals"]) if "not_equals" in item else None,
                in_=_as_str_tuple(item["in"]) if "in" in item else None,
                not_empty=item.get("not_empty"),
                empty=item.get("empty"),
            )
        )
    return tuple(out)


def parse_mapping(data: Any, origin: str = "<string>") -> Mapping:
    if not isinstance(data, dict):
        raise _err(origin, "top level", "a mapping is a YAML dictionary with 'name' and 'records'")
    unknown = set(data) - _MAPPING_KEYS
    if unknown:
        raise _err(origin, "top level", f"unknown key(s) {', '.join(sorted(unknown))}", f"Keys: {', '.join(sorted(_MAPPING_KEYS))}.")
    if "name" not in data or "records" not in data:
        raise _err(origin, "top level", "'name' and 'records' are required")
    tz = str(data.get("timezone", "UTC"))
    records = []
    for i, r in enumerate(data["records"] or []):
        if not isinstance(r, dict) or "table" not in r or "fields" not in r:
            raise _err(origin, f"records[{i}]", "each record needs 'table' and 'fields'")
        unknown = set(r) - _RECORD_KEYS
        if unknown:
            raise _err(origin, f"records[{i}]", f"unknown key(s) {', '.join(sorted(unknown))}")
        table = str(r["table"])
        if table not in TABLES or TABLES[table].internal:
            known = ", ".join(sorted(n for n, t in TABLES.items() if not t.internal))
            raise _err(origin, f"records[{i}]", f"unknown table {table!r}", f"Mappings write to: {known}.")
        fields = {str(k): _parse_field(origin, table, str(k), v, tz) for k, v in (r["fields"] or {}).items()}
        t = TABLES[table]
        missing_required = [c.name for c in t.columns if not c.nullable and c.name not in fields and c.name not in t.primary_key]
        if missing_required:
            raise _err(origin, f"records[{i}] ({table})", f"no field for required column(s) {', '.join(missing_required)}")
        records.append(RecordSpec(table, fields, _parse_when(origin, table, r.get("when"))))
    if not records:
        raise _err(origin, "records", "a mapping needs at least one record")
    after = _as_str_tuple(data.get("after"))
    for step in after:
        if step not in AFTER_STEPS:
            raise _err(origin, "after", f"unknown step {step!r}", f"Steps: {', '.join(AFTER_STEPS)}.")
    return Mapping(
        name=str(data["name"]),
        records=tuple(records),
        title=str(data.get("title", "")),
        description=str(data.get("description", "")),
        format=data.get("format"),
        source=str(data.get("source", data["name"])),
        delimiter=data.get("delimiter"),
        encoding=str(data.get("encoding", "utf-8")),
        timezone=tz,
        after=after,
        attribution=str(data.get("attribution", "")),
        origin=origin,
    )


AFTER_STEPS = ("reply_chains",)


def builtin_mappings() -> dict[str, str]:
    """Names of the mappings shipped with goodwill, with their titles."""
    out = {}
    for entry in sorted(resources.files("goodwill.ingest.mappings").iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".yaml"):
            data = yaml.safe_load(entry.read_text(encoding="utf-8"))
            out[entry.name.removesuffix(".yaml")] = str(data.get("title", ""))
    return out


def load_mapping(name_or_path: str | Path) -> Mapping:
    """A built-in mapping by name (``cfpb``) or a YAML file by path."""
    text_origin: tuple[str, str]
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.exists():
        if not p.exists():
            raise MappingError(f"There is no mapping file at {p}.", hint="Check the path, or name a built-in mapping.")
        text_origin = (p.read_text(encoding="utf-8"), str(p))
    else:
        res = resources.files("goodwill.ingest.mappings").joinpath(f"{name_or_path}.yaml")
        if not res.is_file():
            names = ", ".join(builtin_mappings())
            raise MappingError(
                f"There is no built-in mapping named {name_or_path!r}.",
                hint=f"Built-in mappings: {names}; or give the path of a YAML mapping.",
            )
        text_origin = (res.read_text(encoding="utf-8"), f"builtin:{name_or_path}")
    try:
        data = yaml.safe_load(text_origin[0])
    except yaml.YAMLError as exc:
        raise MappingError(f"Mapping {text_origin[1]} is not valid YAML: {exc}", hint="Fix the YAML syntax.") from exc
    return parse_mapping(data, text_origin[1])

