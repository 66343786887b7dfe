"""Readers that stream a source file as Arrow record batches, so memory stays bounded.

CSV and JSON Lines come in as text columns (the mapping parses them); Parquet keeps
its own types. Rows the reader itself cannot parse (a CSV line with the wrong
number of fields, a JSON line that is not JSON) are handed back as malformed rows
for the quarantine, never silently dropped and never stopping the good rows.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.csv as pacsv

from goodwill.errors import SourceError

FORMATS = ("csv", "tsv", "jsonl", "parquet")


@dataclass
class Malformed:
    line: int | None
    raw: str
    reason: str


@dataclass
class SourceBatch:
    batch: pa.RecordBatch
    # line number of the batch's first record (CSV header is line 1); None when unknown
    first_line: int | None
    malformed: list[Malformed] = field(default_factory=list)


class _Counting(io.RawIOBase):
    """Counts bytes read from the underlying file, for progress on compressed input too."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        n = self.raw.readinto(b)  # type: ignore[attr-defined]
        self.count += n or 0
        return n or 0

    def close(self) -> None:
        self.raw.close()
        super().close()


def detect_format(path: Path) -> str:
    name = path.name.lower()
    for suffix in (".gz", ".bz2", ".zst"):
        name = name.removesuffix(suffix)
    ext = name.rsplit(".", 1)[-1] if "." in name else ""
    if ext in ("csv", "txt"):
        return "csv"
    if ext == "tsv":
        return "tsv"
    if ext in ("jsonl", "ndjson", "json"):
        return "jsonl"
    if ext in ("parquet", "pq"):
        return "parquet"
    raise SourceError(
        f"Cannot tell the format of {path.name} from its name.",
        hint="Name it .csv, .tsv, .jsonl or .parquet (optionally .gz), or pass --format.",
    )


class SourceReader:
    """Iterate a file in batches; ``bytes_read``/``size`` report progress."""

    def __init__(
        self,
        path: str | Path,
        *,
        format: str | None = None,
        batch_size: int = 65_536,
        delimiter: str | None = None,
        encoding: str = "utf-8",
    ) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise SourceError(f"There is no file at {self.path}.", hint="Check the path.")
        if self.path.is_dir():
            raise SourceError(f"{self.path} is a folder.", hint="Give one file to ingest.")
        self.format = format or detect_format(self.path)
        if self.format not in FORMATS:
            raise SourceError(f"Unknown format {self.format!r}.", hint=f"Use one of: {', '.join(FORMATS)}.")
        self.batch_size = batch_size
        self.delimiter = delimiter or ("\t" if self.format == "tsv" else ",")
        self.encoding = encoding
        self.size = self.path.stat().st_size
        self._counter: _Counting | None = None
        self.columns: list[str] = self._read_columns()

    @property
    def bytes_read(self) -> int:
        return self._counter.count if self._counter else 0

    def _open_bytes(self) -> IO[bytes]:
        self._counter = _Counting(open(self.path, "rb"))  # noqa: SIM115 - closed by the caller
        buffered = io.BufferedReader(self._counter, buffer_size=1 << 20)
        if self.path.name.lower().endswith(".gz"):
            return gzip.GzipFile(fileobj=buffered)  # type: ignore[return-value]
        return buffered

    def _read_columns(self) -> list[str]:
        if self.format == "parquet":
            import pyarrow.parquet as pq

            try:
                return list(pq.ParquetFile(self.path).schema_arrow.names)
            except (pa.ArrowInvalid, OSError) as exc:
                raise SourceError(f"{self.path.name} is not a readable Parquet file: {exc}") from exc
        if self.format == "jsonl":
            return []  # JSON Lines have no header; columns are the union of keys seen
        try:
            with self._open_bytes() as fh:
                text = io.TextIOWrapper(fh, encoding=self.encoding, newline="")
                header = next(csv.reader(text, delimiter=self.delimiter), None)
        except UnicodeDecodeError as exc:
            raise SourceError(
                f"{self.path.name} is not valid {self.encoding} text ({exc.reason} at byte {exc.start}).",
                hint="It's often worth trying: --encoding latin-1",
            ) from exc
        except (OSError, EOFError) as exc:
            raise SourceError(f"Cannot read {self.path.name}: {exc}") from exc
        if not header:
            raise SourceError(f"{self.path.name} is empty.", hint="A CSV file needs a header line.")
        return [h.strip().lstrip("\ufeff") for h in header]

    def __iter__(self) -> Iterator[SourceBatch]:
        if self.format == "parquet":
            yield from self._iter_parquet()
        elif self.format == "jsonl":
            yield from self._iter_jsonl()
        else:
            yield from self._iter_csv()

    def _iter_parquet(self) -> Iterator[SourceBatch]:
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(self.path)
        line = 1
        self._counter = _Counting(io.BytesIO())
        for i, batch in enumerate(pf.iter_batches(batch_size=self.batch_size)):
            yield SourceBatch(batch, line)
            line += batch.num_rows
            # Parquet has no cheap byte offset per batch; approximate by row groups read.
            self._counter.count = int(self.size * min(1.0, (i + 1) * self.batch_size / max(1, pf.metadata.num_rows)))

    def _iter_csv(self) -> Iterator[SourceBatch]:
        malformed: list[Malformed] = []

        def on_invalid(row: Any) -> str:
            malformed.append(
                Malformed(
                    row.number,
                    row.text,
                    f"expected {row.expected_columns} fields, found {row.actual_columns}",
                )
            )
            return "skip"

        names = _dedupe_names(self.columns)
        read = pacsv.ReadOptions(
            column_names=names,
            skip_rows=1,
            block_size=4 << 20,
            encoding=self.encoding,
            use_threads=True,
        )
        parse = pacsv.ParseOptions(
            delimiter=self.delimiter, newlines_in_values=True, invalid_row_handler=on_invalid
        )
        convert = pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        )
        fh = self._open_bytes()
        try:
            reader = pacsv.open_csv(fh, read_options=read, parse_options=parse, convert_options=convert)
            line = 2
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    break
                # Arrow does not say where in a block a malformed row sat, so a batch that
                # had one cannot give exact lines; later batches shift by the rows skipped.
                exact = not malformed
                skipped = len(malformed)
                for start in range(0, batch.num_rows, self.batch_size):
                    part = batch.slice(start, self.batch_size)
                    yield SourceBatch(part, line if exact else None, malformed[:] if start == 0 else [])
                    if start == 0:
                        malformed.clear()
                    line += part.num_rows
                line += skipped
            if malformed:
                yield SourceBatch(pa.RecordBatch.from_pydict({n: pa.array([], pa.string()) for n in names}), line, malformed[:])
        except pa.ArrowInvalid as exc:
            msg = str(exc)
            hint = "It's often worth trying: --encoding latin-1" if "UTF8" in msg or "utf8" in msg.lower() else "Check the file is a well-formed CSV."
            raise SourceError(f"Cannot parse {self.path.name}: {msg.splitlines()[0]}", hint=hint) from exc
        finally:
            fh.close()

    def _iter_jsonl(self) -> Iterator[SourceBatch]:
        fh = self._open_bytes()
        try:
            text = io.TextIOWrapper(fh, encoding=self.encoding, errors="strict")
            rows: list[dict[str, Any]] = []
            malformed: list[Malformed] = []
            first = 1
            lineno = 0
            try:
                for raw in text:
                    lineno += 1
                    stripped = raw.strip()
                    if not stripped:
                        continue
                    try:
                        obj = json.loads(stripped)
                    except json.JSONDecodeError as exc:
                        malformed.append(Malformed(lineno, raw.rstrip("\n"), f"not JSON: {exc.msg}"))
                        continue
                    if not isinstance(obj, dict):
                        malformed.append(Malformed(lineno, raw.rstrip("\n"), "a JSON line must be an object"))
                        continue
                    flat: dict[str, Any] = {"__line__": lineno}
                    _flatten(obj, "", flat)
                    rows.append(flat)
                    if len(rows) >= self.batch_size:
                        yield self._jsonl_batch(rows, first, malformed)
                        rows, malformed = [], []
                        first = lineno + 1
            except UnicodeDecodeError as exc:
                raise SourceError(
                    f"{self.path.name} is not valid {self.encoding} text near line {lineno + 1}.",
                    hint="It's often worth trying: --encoding latin-1",
                ) from exc
            if rows or malformed:
                yield self._jsonl_batch(rows, first, malformed)
        finally:
            fh.close()

    def _jsonl_batch(self, rows: list[dict[str, Any]], first: int, malformed: list[Malformed]) -> SourceBatch:
        keys: dict[str, None] = {}
        for r in rows:
            keys.update(dict.fromkeys(r))
        for k in keys:
            if k != "__line__" and k not in self.columns:
                self.columns.append(k)
        data = {k: pa.array([r.get(k) for r in rows], pa.int64() if k == "__line__" else pa.string()) for k in keys}
        batch = pa.RecordBatch.from_pydict(data) if rows else pa.RecordBatch.from_pydict({})
        return SourceBatch(batch, first, malformed)


def _flatten(obj: dict[str, Any], prefix: str, out: dict[str, Any]) -> None:
    for k, v in obj.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            _flatten(v, key + ".", out)
        elif v is None:
            out[key] = None
        elif isinstance(v, bool):
            out[key] = "true" if v else "false"
        elif isinstance(v, str):
            out[key] = v
        elif isinstance(v, int | float):
            out[key] = repr(v) if isinstance(v, float) else str(v)
        else:
            out[key] = json.dumps(v, ensure_ascii=False)


def _dedupe_names(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        if n in seen:
            seen[n] += 1
            out.append(f"{n}_{seen[n]}")
        else:
            seen[n] = 0
            out.append(n)
    return out
