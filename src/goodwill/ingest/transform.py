"""Apply a mapping to one source batch, column at a time (vectorised with Arrow).

Each field is parsed for the whole batch at once. A value that fails to parse
marks its row bad (unless the field says ``on_error: null``); bad rows go to the
quarantine with every reason, and the good rows go on. A per-row Python loop is
kept only where no vectorised path exists (attribute JSON, generated keys).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from goodwill.ingest.mapping import Condition, FieldSpec, Mapping, RecordSpec
from goodwill.model import ARROW_TYPES_FOR_FIELD, TABLES

_ISO = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$"
_HAS_OFFSET = r"(Z|[+-]\d{2}:?\d{2})$"
_DATE_ONLY = r"^\d{4}-\d{2}-\d{2}$"
_INT = r"^[+-]?\d+$"
_FLOAT = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")
_TS_UTC = pa.timestamp("us", tz="UTC")


@dataclass
class Transformed:
    tables: dict[str, pa.Table] = field(default_factory=dict)
    # (batch row index, reasons) for rows sent to quarantine
    bad_rows: dict[int, list[str]] = field(default_factory=dict)
    # records dropped alone (the rest of the row stored), e.g. an invalid identifier
    record_errors: list[tuple[int, str]] = field(default_factory=list)


def _as_string(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        return arr.cast(pa.string())
    if pa.types.is_null(arr.type):
        return pa.nulls(len(arr), pa.string())
    if pa.types.is_floating(arr.type):
        # 12.0 → "12" so ids written as floats (a common CSV export artefact) stay ids.
        ints = pc.cast(arr, pa.int64(), safe=False)
        is_int = pc.equal(pc.cast(ints, arr.type), arr)
        return pc.if_else(is_int, pc.cast(ints, pa.string()), pc.cast(arr, pa.string()))
    return pc.cast(arr, pa.string())


def _column(batch: pa.RecordBatch, name: str) -> pa.Array:
    return batch.column(batch.schema.get_field_index(name))


def _nullify(arr: pa.Array, null_if: tuple[str, ...]) -> pa.Array:
    if not (pa.types.is_string(arr.type)):
        return arr
    trimmed = pc.utf8_trim_whitespace(arr)
    if null_if:
        trimmed = pc.if_else(pc.is_in(trimmed, pa.array(list(null_if), pa.string())), pa.scalar(None, pa.string()), trimmed)
    return trimmed


def _error_where(mask: pa.Array, message: str, values: pa.Array | None = None) -> pa.Array:
    """A string array holding ``message`` (and the offending value) where mask is true."""
    mask = pc.fill_null(mask, False)
    if not pc.any(mask).as_py():
        return pa.nulls(len(mask), pa.string())
    if values is not None and pa.types.is_string(values.type):
        shown = pc.utf8_slice_codeunits(values, 0, 60)
        text = pc.binary_join_element_wise(pa.scalar(message + " (got '"), shown, pa.scalar("')"), "")
        return pc.if_else(mask, text, pa.scalar(None, pa.string()))
    return pc.if_else(mask, pa.scalar(message), pa.scalar(None, pa.string()))


def _parse_timestamp(arr: pa.Array, spec: FieldSpec, *, slow_fallback: bool = True) -> tuple[pa.Array, pa.Array]:
    n = len(arr)
    if pa.types.is_timestamp(arr.type):
        if arr.type.tz is None:
            arr = pc.assume_timezone(arr, spec.tz or "UTC", ambiguous="earliest", nonexistent="earliest")
        return arr.cast(_TS_UTC), pa.nulls(n, pa.bool_())
    if pa.types.is_date(arr.type):
        return pc.assume_timezone(arr.cast(pa.timestamp("us")), spec.tz or "UTC").cast(_TS_UTC), pa.nulls(n, pa.bool_())
    s = _as_string(arr)
    present = pc.is_valid(s)
    if spec.formats:
        result = pa.nulls(n, _TS_UTC)
        for fmt in spec.formats:
            parsed = pc.strptime(s, format=fmt, unit="us", error_is_null=True)
            if parsed.type.tz is None:
                parsed = pc.assume_timezone(parsed, spec.tz or "UTC", ambiguous="earliest", nonexistent="earliest")
            result = pc.coalesce(result, parsed.cast(_TS_UTC))
        bad = pc.and_(present, pc.is_null(result))
        return result, bad
    iso = pc.match_substring_regex(s, _ISO)
    bad = pc.and_(present, pc.invert(pc.fill_null(iso, False)))
    good = pc.if_else(pc.fill_null(iso, False), s, pa.scalar(None, pa.string()))
    offset = pc.fill_null(pc.match_substring_regex(good, _HAS_OFFSET), False)
    date_only = pc.fill_null(pc.match_substring_regex(good, _DATE_ONLY), False)
    try:
        aware_src = pc.if_else(offset, good, pa.scalar(None, pa.string()))
        aware = pc.cast(aware_src, _TS_UTC)
        naive_src = pc.if_else(pc.and_(pc.invert(offset), pc.invert(date_only)), good, pa.scalar(None, pa.string()))
        naive = pc.cast(naive_src, pa.timestamp("us"))
        dates = pc.cast(pc.cast(pc.if_else(date_only, good, pa.scalar(None, pa.string())), pa.date32()), pa.timestamp("us"))
        local = pc.assume_timezone(pc.coalesce(naive, dates), spec.tz or "UTC", ambiguous="earliest", nonexistent="earliest").cast(_TS_UTC)
        return pc.coalesce(aware, local), bad
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        if not slow_fallback:
            raise
        # A value that looks ISO but is not a real time (month 13): fall back to one at a time.
        return _parse_timestamp_slow(good, spec, bad)


def _parse_timestamp_slow(good: pa.Array, spec: FieldSpec, bad: pa.Array) -> tuple[pa.Array, pa.Array]:
    out: list[Any] = []
    badl = bad.to_pylist()
    for i, v in enumerate(good.to_pylist()):
        if v is None:
            out.append(None)
            continue
        one = pa.array([v], pa.string())
        try:
            ts, _ = _parse_timestamp(one, spec, slow_fallback=False)
            out.append(ts[0].as_py())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            out.append(None)
            badl[i] = True
    return pa.array(out, _TS_UTC), pa.array(badl, pa.bool_())


def _parse_number(arr: pa.Array, spec: FieldSpec, target: pa.DataType) -> tuple[pa.Array, pa.Array]:
    n = len(arr)
    if pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type) or pa.types.is_decimal(arr.type):
        try:
            return arr.cast(target), pa.nulls(n, pa.bool_())
        except pa.ArrowInvalid:
            arr = _as_string(arr)
    s = _as_string(arr)
    if spec.type == "money":
        # "£1,234.50", "$ 12", "1.234,50" (decimal ",") → plain number text
        s = pc.replace_substring_regex(s, r"[^\d,.\-+()]", "")
        if spec.decimal == ",":
            s = pc.replace_substring(pc.replace_substring(s, ".", ""), ",", ".")
        else:
            s = pc.replace_substring(s, ",", "")
        negative = pc.fill_null(pc.match_substring_regex(s, r"^\(.*\)$"), False)
        s = pc.if_else(negative, pc.binary_join_element_wise("-", pc.replace_substring_regex(s, r"[()]", ""), ""), s)
    pattern = _INT if pa.types.is_integer(target) else _FLOAT
    ok = pc.fill_null(pc.match_substring_regex(s, pattern), False)
    bad = pc.and_(pc.is_valid(s), pc.invert(ok))
    clean = pc.if_else(ok, s, pa.scalar(None, pa.string()))
    return pc.cast(clean, target), bad


def _parse_bool(arr: pa.Array) -> tuple[pa.Array, pa.Array]:
    if pa.types.is_boolean(arr.type):
        return arr, pa.nulls(len(arr), pa.bool_())
    s = pc.utf8_lower(_as_string(arr))
    t = pc.is_in(s, pa.array(_TRUE))
    f = pc.is_in(s, pa.array(_FALSE))
    valid = pc.or_(t, f)
    out = pc.if_else(valid, t, pa.scalar(None, pa.bool_()))
    bad = pc.and_(pc.is_valid(s), pc.invert(valid))
    return out, bad


def _template(batch: pa.RecordBatch, template: str, null_if: tuple[str, ...]) -> pa.Array:
    parts: list[pa.Array | pa.Scalar] = []
    pos = 0
    for m in re.finditer(r"\{([^{}]+)\}", template):
        if m.start() > pos:
            parts.append(pa.scalar(template[pos : m.start()]))
        name, _, conv = m.group(1).partition(":")
        col = _nullify(_as_string(_column(batch, name)), null_if)
        if conv == "int":
            # "20.0" → "20": ids that a spreadsheet or pandas export wrote as floats
            col = pc.replace_substring_regex(col, r"^(-?\d+)\.0*$", r"\1")
        parts.append(col)
        pos = m.end()
    if pos < len(template):
        parts.append(pa.scalar(template[pos:]))
    if len(parts) == 1 and isinstance(parts[0], pa.Array):
        return parts[0]
    n = batch.num_rows
    arrays = [p if isinstance(p, pa.Array) else pa.array([p.as_py()] * n, pa.string()) for p in parts]
    return pc.binary_join_element_wise(*arrays, "", null_handling="emit_null")


def _json_of(batch: pa.RecordBatch, columns: tuple[str, ...]) -> pa.Array:
    cols = {c: _as_string(_column(batch, c)).to_pylist() for c in columns}
    out = []
    for i in range(batch.num_rows):
        obj = {c: v[i] for c, v in cols.items() if v[i] not in (None, "")}
        out.append(json.dumps(obj, ensure_ascii=False, sort_keys=True) if obj else None)
    return pa.array(out, pa.string())


def evaluate_field(batch: pa.RecordBatch, spec: FieldSpec, target_type: pa.DataType) -> tuple[pa.Array, pa.Array]:
    """The field's values for the whole batch, and a bool array of parse failures."""
    n = batch.num_rows
    no_errors = pa.nulls(n, pa.string())
    if spec.value is not None:
        return pa.repeat(pa.scalar(spec.value).cast(target_type), n), no_errors
    if spec.template is not None:
        raw: pa.Array = _template(batch, spec.template, spec.null_if)
    elif spec.columns:
        raw = _json_of(batch, spec.columns)
        return raw, no_errors
    else:
        assert spec.column is not None
        raw = _column(batch, spec.column)
        if isinstance(raw, pa.ChunkedArray):
            raw = raw.combine_chunks()
    if pa.types.is_string(raw.type) or pa.types.is_large_string(raw.type):
        raw = _nullify(raw.cast(pa.string()), spec.null_if)
    if spec.map is not None:
        s = _as_string(raw)
        keys = pa.array(list(spec.map.keys()), pa.string())
        idx = pc.index_in(s, keys)
        known = pc.is_valid(idx)
        values = [spec.map[k] for k in spec.map]
        mapped = pc.take(pa.array(values), idx) if values else pa.nulls(n)
        unknown = pc.and_(pc.is_valid(s), pc.invert(known))
        if spec.default is not None:
            mapped = pc.if_else(unknown, pa.scalar(spec.default), mapped)
            unknown = pa.nulls(n, pa.bool_())
        else:
            allowed = ", ".join(list(spec.map)[:10])
            err = _error_where(unknown, f"{spec.target}: value not in its map ({allowed})", s)
            return _cast_target(mapped, target_type), err
        return _cast_target(mapped, target_type), no_errors
    if spec.type == "timestamp" or (spec.type == "date" and pa.types.is_timestamp(target_type)):
        values, bad = _parse_timestamp(raw, spec)
        if pa.types.is_date(target_type):
            values = values.cast(pa.date32())
    elif spec.type == "date":
        ts, bad = _parse_timestamp(raw, spec)
        values = pc.cast(ts, pa.date32()) if pa.types.is_date(target_type) else ts
    elif spec.type in ("int", "float", "money"):
        num_type = pa.int64() if spec.type == "int" else pa.float64()
        values, bad = _parse_number(raw, spec, num_type)
    elif spec.type == "bool":
        values, bad = _parse_bool(raw)
    else:
        values, bad = _as_string(raw), pa.nulls(n, pa.bool_())
        if spec.lower:
            values = pc.utf8_lower(values)
    if spec.default is not None:
        values = pc.fill_null(values, pa.scalar(spec.default).cast(values.type))
    err = _error_where(bad, f"{spec.target}: not a valid {spec.type}" + (f" in format {' or '.join(spec.formats)}" if spec.formats else ""), _as_string(raw))
    return _cast_target(values, target_type), err


def _cast_target(values: pa.Array, target_type: pa.DataType) -> pa.Array:
    if values.type.equals(target_type):
        return values
    if pa.types.is_null(values.type):
        return pa.nulls(len(values), target_type)
    if pa.types.is_string(target_type):
        return _as_string(values)
    return values.cast(target_type)


def _condition_mask(batch: pa.RecordBatch, conds: tuple[Condition, ...]) -> pa.Array:
    mask = pa.array(np.ones(batch.num_rows, dtype=bool))
    for c in conds:
        m: pa.Array
        if c.equals is None and c.not_equals is None and c.in_ is None:
            # Present or empty needs no trimmed copy of the column (texts are long): a value
            # is empty when null, "" or whitespace only.
            raw = _as_string(_column(batch, c.column))
            blank = pc.or_kleene(pc.is_null(raw), pc.or_(pc.equal(pc.utf8_length(raw), 0), pc.utf8_is_space(raw)))
            blank = pc.fill_null(blank, True)
            mask = pc.and_(mask, blank if c.empty else pc.invert(blank))
            continue
        s = _nullify(_as_string(_column(batch, c.column)), ("",))
        if c.equals is not None:
            m = pc.fill_null(pc.equal(s, c.equals), False)
        elif c.not_equals is not None:
            m = pc.fill_null(pc.not_equal(s, c.not_equals), True)
        elif c.in_ is not None:
            m = pc.is_in(s, pa.array(list(c.in_), pa.string()))
        elif c.empty:
            m = pc.is_null(s)
        else:
            m = pc.is_valid(s)
        mask = pc.and_(mask, m)
    return mask


def _generated_ids(batch: pa.RecordBatch, mapping: Mapping, record: RecordSpec) -> pa.Array:
    """A natural key from the row's own content when the mapping gives none, so that
    re-ingesting the same row yields the same key and adds nothing twice."""
    cols = [_as_string(c).to_pylist() for c in batch.columns]
    prefix = f"{mapping.source}:{record.table}:"
    out = []
    for i in range(batch.num_rows):
        h = hashlib.sha1("\x1f".join("" if c[i] is None else c[i] for c in cols).encode("utf-8"), usedforsecurity=False)
        out.append(prefix + h.hexdigest()[:20])
    return pa.array(out, pa.string())


def apply_mapping(mapping: Mapping, batch: pa.RecordBatch) -> Transformed:
    result = Transformed()
    n = batch.num_rows
    if n == 0:
        return result
    evaluated: list[tuple[RecordSpec, pa.Array, dict[str, pa.Array]]] = []
    errors: list[pa.Array] = []
    for record in mapping.records:
        table = TABLES[record.table]
        applies = _condition_mask(batch, record.when)
        arrays: dict[str, pa.Array] = {}
        for name, spec in record.fields.items():
            target_type = ARROW_TYPES_FOR_FIELD[table.column(name).type]
            values, err = evaluate_field(batch, spec, target_type)
            if spec.on_error == "null":
                values = pc.if_else(pc.is_valid(err), pa.scalar(None, values.type), values)
            else:
                errors.append(pc.if_else(applies, err, pa.scalar(None, pa.string())))
            col = table.column(name)
            if (spec.required or not col.nullable) and name not in table.primary_key:
                missing = pc.and_(applies, pc.and_(pc.is_null(values), pc.is_null(err)))
                errors.append(_error_where(missing, f"{record.table}.{name} is required but empty"))
            arrays[name] = values
        for key in table.primary_key:
            if key not in arrays:
                arrays[key] = _generated_ids(batch, mapping, record)
            else:
                missing = pc.and_(applies, pc.is_null(arrays[key]))
                errors.append(_error_where(missing, f"{record.table}.{key} (its key) is empty"))
        evaluated.append((record, applies, arrays))
    bad = pa.array(np.zeros(n, dtype=bool))
    for e in errors:
        bad = pc.or_(bad, pc.is_valid(e))
    if pc.any(bad).as_py():
        idx = pc.indices_nonzero(bad).to_pylist()
        lists = [e.take(pa.array(idx)).to_pylist() for e in errors]
        for j, i in enumerate(idx):
            result.bad_rows[i] = [lst[j] for lst in lists if lst[j] is not None]
    good = pc.invert(bad)
    for record, applies, arrays in evaluated:
        keep = pc.and_(applies, good)
        if pc.all(keep).as_py():
            table = pa.table(arrays)
        else:
            table = pa.table({k: pc.filter(v, keep) for k, v in arrays.items()})
        if table.num_rows:
            prev = result.tables.get(record.table)
            result.tables[record.table] = table if prev is None else pa.concat_tables([prev, table], promote_options="default")
    return result
