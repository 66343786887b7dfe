"""Spark: the engine for a company whose data has outgrown one machine.

Tables are folders of Parquet files in a *warehouse* folder (a local path for ``local[N]``,
or a path every worker can reach: HDFS, a shared mount, an object store Hadoop can write).
goodwill's SQL is compiled to Spark SQL by :mod:`goodwill.store.sparksql`, so the measures
run here unchanged. Plain Parquet has no DELETE, UPDATE or transactions, so this store
provides them itself:

- INSERT ... SELECT appends new files to the table's folder;
- DELETE and UPDATE write the table's new rows to a fresh folder and swap it in;
- a transaction remembers each table's files when it starts; a failure removes the files
  written since and puts back the folders swapped out. It makes a rebuild all-or-nothing for
  this process; it does not isolate readers in other processes while it runs.

URLs: ``spark://local[2]?warehouse=PATH`` (any ``local[...]`` master), ``spark://HOST:7077``
(a standalone cluster's master URL, as Spark spells it), ``spark:PATH`` (``local[2]`` with that
warehouse). Query parameters that start with ``spark.`` are passed to Spark as settings, e.g.
``?spark.driver.memory=4g``. One SparkSession serves every store of a process; each store has
a session of its own over it, so their table views do not mix.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import threading
import uuid
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import pyarrow as pa

from goodwill.errors import ConfigError, MissingDependencyError, StoreError
from goodwill.model import TABLES, Column, Table
from goodwill.store.base import Params, Store, check_identifier, has_repeats

if TYPE_CHECKING:
    from goodwill.store.sparksql import Compiled

__all__ = ["SparkStore", "parse_spark_url", "quiet_pandas", "spark_session"]

DEFAULT_WAREHOUSE = ".goodwill/spark-warehouse"
SPARK_TYPES = {
    "text": "STRING",
    "int": "BIGINT",
    "float": "DOUBLE",
    "bool": "BOOLEAN",
    "timestamp": "TIMESTAMP",
    "date": "DATE",
    "json": "STRING",
}
META = Table(
    "goodwill_meta",
    (Column("key", "text", nullable=False), Column("value", "text")),
    ("key",),
    "goodwill's own settings: schema version and when each measure was built.",
    customer_column=None,
    internal=True,
)
# pyspark 4 warns on pandas 3 at every Arrow conversion, though goodwill passes no pandas.
_PANDAS_WARNING = "PySpark does not yet fully support pandas"



@contextlib.contextmanager
def quiet_pandas() -> Iterator[None]:
    """Silence pyspark's warning about pandas 3 around a call that passes no pandas at all."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_PANDAS_WARNING)
        yield


_session_lock = threading.Lock()
_base_session: Any = None


@dataclass(frozen=True)
class SparkTarget:
    master: str
    warehouse: str
    conf: dict[str, str] = field(default_factory=dict)


def parse_spark_url(url: str) -> SparkTarget:
    """``spark://local[2]?warehouse=PATH``, ``spark://HOST:PORT?warehouse=PATH`` or ``spark:PATH``."""
    if url.startswith("spark://"):
        # Not urlsplit: it reads local[2]'s brackets as an IPv6 address.
        rest, _, q = url.removeprefix("spark://").partition("?")
        query = dict(parse_qsl(q, keep_blank_values=True))
        host = rest.rstrip("/")
        master = host if host.startswith("local") or host in ("yarn",) else f"spark://{host}"
        if not host:
            master = "local[2]"
        warehouse = query.pop("warehouse", DEFAULT_WAREHOUSE)
    elif url.startswith("spark:"):
        rest = url.removeprefix("spark:")
        path, _, q = rest.partition("?")
        query = dict(parse_qsl(q, keep_blank_values=True))
        master = query.pop("master", "local[2]")
        warehouse = path or DEFAULT_WAREHOUSE
    else:
        raise ConfigError(
            f"{url!r} is not a Spark URL.",
            hint="Use spark://local[2]?warehouse=PATH, spark://HOST:7077?warehouse=PATH or spark:PATH.",
        )
    unknown = [k for k in query if not k.startswith("spark.")]
    if unknown:
        raise ConfigError(
            f"Unknown Spark URL option(s): {', '.join(unknown)}.",
            hint="Give the warehouse as ?warehouse=PATH and Spark settings as ?spark.NAME=VALUE.",
        )
    if "://" not in warehouse:
        warehouse = str(Path(warehouse).expanduser().resolve())
    return SparkTarget(master, warehouse, query)


def _pyspark() -> Any:
    try:
        with quiet_pandas():
            import pyspark.sql
    except ImportError as exc:
        raise MissingDependencyError("pyspark", "spark", "A Spark store") from exc
    return pyspark.sql


def _sparksql() -> Any:
    """goodwill's compiler for Spark SQL (it needs sqlglot, part of the spark extra)."""
    try:
        from goodwill.store import sparksql
    except ImportError as exc:
        raise MissingDependencyError("sqlglot", "spark", "A Spark store") from exc
    return sparksql


def java_missing() -> str | None:
    """Why Spark cannot start here, or None when a Java runtime is found."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return None
    if shutil.which("java"):
        return None
    return "no Java runtime found (install Java 17, e.g. apt-get install openjdk-17-jre-headless, or set JAVA_HOME)"


def spark_session(target: SparkTarget) -> Any:
    """The process's one SparkSession (started on first use), and a session of its own over it."""
    global _base_session
    sql = _pyspark()
    with _session_lock:
        if _base_session is None:
            why = java_missing()
            if why:
                raise StoreError(f"Spark cannot start: {why}.", hint="Install Java 17 and try again.")
            local = target.master.startswith("local")
            builder = (
                sql.SparkSession.builder.master(target.master)
                .appName("goodwill")
                .config("spark.sql.session.timeZone", "UTC")
                # Spark's default INT96 timestamps are a legacy format other readers mistype.
                .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
                .config("spark.sql.execution.arrow.pyspark.enabled", "true")
                .config("spark.ui.showConsoleProgress", "false")
            )
            if local and not os.environ.get("PYSPARK_PYTHON"):
                # Local workers must run this interpreter, which has goodwill and its models
                # (pyspark reads only the variable, and would start "python3"); on a cluster the
                # workers' Python is the cluster's to set.
                os.environ["PYSPARK_PYTHON"] = sys.executable
            if local:
                # 200 shuffle partitions are for clusters; on a few local cores they cost
                # more in task overhead than the work itself.
                builder = builder.config("spark.ui.enabled", "false").config(
                    "spark.sql.shuffle.partitions", "4"
                )
            if "spark.sql.warehouse.dir" not in target.conf:
                # Spark's own catalog folder (goodwill does not use it) would land in the
                # working directory.
                builder = builder.config("spark.sql.warehouse.dir", f"{target.warehouse.rstrip('/')}/_gw_spark_sql")
            for k, v in target.conf.items():
                builder = builder.config(k, v)
            try:
                with quiet_pandas():
                    _base_session = builder.getOrCreate()
            except Exception as exc:
                raise StoreError(
                    f"Spark could not start with master {target.master}: {str(exc).strip().splitlines()[0]}",
                    hint="Check the master URL and that Java 17 is installed (JAVA_HOME).",
                ) from exc
            _base_session.sparkContext.setLogLevel("ERROR")
        session = _base_session.newSession()
    session.conf.set("spark.sql.session.timeZone", "UTC")
    return session


def _first_per_key(data: pa.Table, key: list[str]) -> pa.Table:
    """The first row of each primary key (a batch may repeat one)."""
    numbered = data.append_column("_gw_row", pa.array(range(data.num_rows), pa.int64()))
    first = numbered.group_by(key, use_threads=False).aggregate([("_gw_row", "min")])
    rows = sorted(first.column("_gw_row_min").to_pylist())
    return data.take(pa.array(rows, pa.int64()))


def _ddl(table: Table) -> str:
    return ", ".join(f"`{c.name}` {SPARK_TYPES[c.type]}" for c in table.columns)


def _columns(table: Table) -> tuple[str, ...]:
    return tuple(table.column_names)


def _types(table: Table) -> dict[str, str]:
    return {c.name: SPARK_TYPES[c.type] for c in table.columns}


class _Files:
    """The warehouse's folders through Hadoop's FileSystem, so HDFS and object stores work as
    local folders do."""

    def __init__(self, session: Any, root: str) -> None:
        jvm = session.sparkContext._jvm
        self._Path = jvm.org.apache.hadoop.fs.Path
        conf = session.sparkContext._jsc.hadoopConfiguration()
        self.root = root
        self.fs = self._Path(root).getFileSystem(conf)

    def path(self, *parts: str) -> str:
        return "/".join([self.root.rstrip("/"), *parts])

    def exists(self, p: str) -> bool:
        return bool(self.fs.exists(self._Path(p)))

    def mkdirs(self, p: str) -> None:
        self.fs.mkdirs(self._Path(p))

    def delete(self, p: str) -> None:
        self.fs.delete(self._Path(p), True)

    def rename(self, src: str, dst: str) -> None:
        if not self.fs.rename(self._Path(src), self._Path(dst)):
            raise StoreError(f"Could not move {src} to {dst}.", hint="Check the warehouse's permissions.")

    def names(self, p: str) -> list[str]:
        if not self.exists(p):
            return []
        return [str(s.getPath().getName()) for s in self.fs.listStatus(self._Path(p))]

    def data_files(self, p: str) -> set[str]:
        return {n for n in self.names(p) if not n.startswith(("_", "."))}


@dataclass
class _Transaction:
    files: dict[str, set[str]]
    trash: str
    swapped: set[str] = field(default_factory=set)
    touched: set[str] = field(default_factory=set)


class SparkStore(Store):
    engine = "spark"
    # One row of alias x as JSON text; sqlglot writes it as Spark's to_json(struct(x.*)).
    row_json_sql = "to_json(struct_pack(x.*))"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.target = parse_spark_url(url)
        self._sql = _sparksql()
        self.spark = spark_session(self.target)
        self.files = _Files(self.spark, self.target.warehouse)
        self._local = "://" not in self.target.warehouse
        self.files.mkdirs(self.target.warehouse)
        self._lock = threading.RLock()
        self._views: set[str] = set()
        self._tx: _Transaction | None = None

    # -- lifecycle ---------------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            for name in list(self._views):
                with contextlib.suppress(Exception):
                    self.spark.catalog.dropTempView(name)
            self._views.clear()

    def _table(self, name: str) -> Table:
        if name == "goodwill_meta":
            return META
        if name in TABLES:
            return TABLES[name]
        raise StoreError(
            f"goodwill has no table {name!r}.",
            hint="Import the module that defines it, or check the name.",
        )

    def table_exists(self, name: str) -> bool:
        check_identifier(name)
        return self.files.exists(self.files.path(name))

    def ensure_table(self, table: Table) -> None:
        with self._lock:
            folder = self.files.path(table.name)
            if not self.files.exists(folder):
                self.files.mkdirs(folder)
            self._register(table.name)

    def create_meta(self) -> None:
        self.ensure_table(META)

    def _register(self, name: str) -> None:
        """(Re)create the table's view; Spark lists a folder's files when a view is made, so
        this runs after every write."""
        table = self._table(name)
        df = self.spark.read.schema(_ddl(table)).parquet(self.files.path(name))
        df.createOrReplaceTempView(name)
        self._views.add(name)

    def _ensure_views(self, sql: str) -> None:
        from sqlglot import exp

        tree = self._sql.parse(sql)
        ctes = {c.alias_or_name for c in tree.find_all(exp.CTE)}
        for t in tree.find_all(exp.Table):
            name = t.name
            if name and name not in ctes and name not in self._views and self.table_exists(name):
                self._register(name)

    def _schema(self) -> dict[str, dict[str, str]]:
        return dict(self._sql.schema_of())

    # -- errors ------------------------------------------------------------------------
    def _fail(self, exc: Exception, spark_sql: str) -> StoreError:
        text = str(exc).strip()
        first = text.splitlines()[0] if text else repr(exc)
        return StoreError(
            f"Spark error: {first[:500]}",
            hint="goodwill compiled this for Spark from its portable SQL: " + spark_sql[:300],
        )

    # -- reads -------------------------------------------------------------------------
    def _compile(self, sql: str, params: Params) -> Compiled:
        self._ensure_views(sql)
        compiled: Compiled = self._sql.compile_statement(sql, params, self._schema())
        return compiled

    def _df(self, spark_sql: str) -> Any:
        try:
            return self.spark.sql(spark_sql)
        except Exception as exc:
            raise self._fail(exc, spark_sql) from exc

    def _arrow(self, df: Any, spark_sql: str) -> pa.Table:
        try:
            with quiet_pandas():
                return df.toArrow()
        except Exception as exc:
            raise self._fail(exc, spark_sql) from exc

    def query(self, sql: str, params: Params = None) -> pa.Table:
        with self._lock:
            c = self._compile(sql, params)
            if c.kind != "query":
                self._apply(c)
                self._wrote(sql)
                return pa.table({})
            return self._arrow(self._df(c.sql), c.sql)

    def scan(self, sql: str, params: Params = None, *, batch_size: int = 65_536) -> Iterator[pa.RecordBatch]:
        # The result is gathered on the driver, then handed out in batches: work that must not
        # pass through one machine maps over partitions instead (goodwill.understand.cluster).
        table = self.query(sql, params)
        yield from table.to_batches(max_chunksize=batch_size)

    def frame(self, sql: str, params: Params = None) -> Any:
        """A query as a Spark DataFrame, not gathered: for work that maps over partitions."""
        with self._lock:
            c = self._compile(sql, params)
            if c.kind != "query":
                raise StoreError("frame() takes a query.", hint="Use execute() for statements that change data.")
            return self._df(c.sql)

    def append_frame(self, table: str | Table, df: Any, *, dedupe: bool = True) -> int:
        """Append a DataFrame's rows (the table's columns, by name), written by the workers;
        with ``dedupe`` rows whose key is already stored or repeated are skipped."""
        t = table if isinstance(table, Table) else self._table(table)
        with self._lock:
            self.ensure_table(t)
            missing = [c for c in t.column_names if c not in df.columns]
            if missing:
                raise StoreError(
                    f"The rows for {t.name} lack column(s) {', '.join(missing)}.",
                    hint=f"Give them the columns {', '.join(t.column_names)}.",
                )
            df = df.select(*t.column_names)
            if dedupe:
                key = list(t.primary_key)
                df = df.dropDuplicates(key)
                if self.files.data_files(self.files.path(t.name)):
                    df = df.join(self.spark.table(t.name).select(*key), on=key, how="left_anti")
                df = df.select(*t.column_names)
            added = self._write(t, df, list(t.column_names))
            if added:
                self.generation += 1
            return added

    # -- writes ------------------------------------------------------------------------
    def execute(self, sql: str, params: Params = None) -> int:
        with self._lock:
            c = self._compile(sql, params)
            if c.kind == "query":
                self._arrow(self._df(c.sql), c.sql)
                return -1
            n = self._apply(c)
            self._wrote(sql)
            return n

    def _apply(self, c: Compiled) -> int:
        assert c.table is not None
        table = self._table(c.table)
        if c.kind == "create":
            self.ensure_table(table)
            return -1
        if c.kind == "add_columns":
            # Tables are read with the schema goodwill declares, and Parquet files written
            # before a column existed read it as null: a column the schema has needs nothing.
            missing = [n for n in c.columns if not table.has_column(n)]
            if missing:
                raise StoreError(
                    f"Cannot add column(s) {', '.join(missing)} to {table.name}: goodwill's schema lacks them.",
                    hint="Declare the column in the table's definition; Spark tables follow it.",
                )
            self._register(table.name)
            return -1
        if c.kind == "insert":
            df = self._df(c.sql)
            names = list(c.columns) or list(_columns(table))
            if len(df.columns) != len(names):
                raise StoreError(
                    f"INSERT INTO {table.name} names {len(names)} column(s) but its SELECT gives {len(df.columns)}.",
                    hint="Give as many values as columns.",
                )
            return self._write(table, df.toDF(*[f"_gw_{i}" for i in range(len(names))]), names)
        if c.kind in ("delete", "update"):
            assert c.count_sql is not None
            stored = self.files.data_files(self.files.path(table.name))
            if not stored:
                return 0
            if c.extra.get("everything"):
                # DELETE without WHERE (every rebuild starts so): swap in an empty folder.
                n = self._rows_in(table, sorted(stored))
                if n:
                    fresh = self.files.path("_gw_tmp", f"{table.name}-{uuid.uuid4().hex}")
                    self.files.mkdirs(fresh)
                    self._swap(table, fresh)
                return n
            n = int(self._df(c.count_sql).collect()[0][0])
            if n:
                self._rewrite(table, self._df(c.sql))
            return n
        raise StoreError(f"Cannot apply a {c.kind} statement.")  # pragma: no cover - compile refuses first

    def _conformed(self, table: Table, df: Any, names: Sequence[str]) -> Any:
        """The table's columns in order, each cast to its type; absent ones null."""
        types = _types(table)
        unknown = [n for n in names if n not in types]
        if unknown:
            raise StoreError(
                f"Table {table.name} has no column(s) {', '.join(unknown)}.",
                hint=f"Its columns are: {', '.join(types)}.",
            )
        given = dict(zip(names, df.columns, strict=True))
        exprs = [
            f"CAST(`{given[c]}` AS {t}) AS `{c}`" if c in given else f"CAST(NULL AS {t}) AS `{c}`"
            for c, t in types.items()
        ]
        return df.selectExpr(*exprs)

    def _write(self, table: Table, df: Any, names: Sequence[str], *, count: bool = True) -> int:
        folder = self.files.path(table.name)
        before = self.files.data_files(folder)
        self._note(table.name, before)
        try:
            self._conformed(table, df, names).write.mode("append").parquet(folder)
        except StoreError:
            raise
        except Exception as exc:
            raise self._fail(exc, f"append to {table.name}") from exc
        new = sorted(self.files.data_files(folder) - before)
        self._register(table.name)
        if not new or not count:
            return 0
        return self._rows_in(table, new)

    def _rows_in(self, table: Table, names: Sequence[str]) -> int:
        """Rows in some of a table's files: from the Parquet footers where the warehouse is a
        local folder (no job), else by a Spark count."""
        folder = self.files.path(table.name)
        if self._local:
            import pyarrow.parquet as pq

            return sum(pq.read_metadata(f"{folder}/{n}").num_rows for n in names)
        return int(self.spark.read.schema(_ddl(table)).parquet(*[f"{folder}/{n}" for n in names]).count())

    def _rewrite(self, table: Table, df: Any, *, order: Sequence[str] = ()) -> None:
        """Write the table's new rows to a fresh folder, then swap it in for the old one."""
        fresh = self.files.path("_gw_tmp", f"{table.name}-{uuid.uuid4().hex}")
        out = self._conformed(table, df, list(_columns(table)))
        if order:
            out = out.orderBy(*order)
        try:
            out.write.mode("overwrite").parquet(fresh)
        except Exception as exc:
            raise self._fail(exc, f"rewrite of {table.name}") from exc
        self._swap(table, fresh)

    def _swap(self, table: Table, fresh: str) -> None:
        """Put the folder ``fresh`` in the table's place (the old one kept while a transaction runs)."""
        folder = self.files.path(table.name)
        tx = self._tx
        if tx is not None and table.name not in tx.swapped:
            self._note(table.name, self.files.data_files(folder))
            self.files.mkdirs(tx.trash)
            self.files.rename(folder, f"{tx.trash}/{table.name}")
            tx.swapped.add(table.name)
        else:
            self.files.delete(folder)
        self.files.rename(fresh, folder)
        self._register(table.name)

    def _note(self, name: str, files: set[str]) -> None:
        tx = self._tx
        if tx is not None:
            tx.files.setdefault(name, set(files))
            tx.touched.add(name)

    def _append(self, table: Table, data: pa.Table, *, dedupe: bool) -> int:
        with self._lock:
            self.ensure_table(table)
            key = list(table.primary_key)
            if dedupe and has_repeats(data, table.primary_key):
                data = _first_per_key(data, key)
            # Rows already stored are found by an anti-join in Spark; into an empty table
            # every row goes, and how many is known without a job.
            join = dedupe and bool(self.files.data_files(self.files.path(table.name)))
            with quiet_pandas():
                df = self.spark.createDataFrame(data)
            if join:
                stored = self.spark.table(table.name).select(*key)
                df = df.join(stored, on=key, how="left_anti").select(*table.column_names)
            n = self._write(table, df, list(table.column_names), count=join)
            return n if join else data.num_rows

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            if self._tx is not None:
                yield
                return
            self._tx = _Transaction({}, self.files.path("_gw_trash", uuid.uuid4().hex))
            try:
                yield
            except BaseException:
                self._rollback(self._tx)
                raise
            else:
                self.files.delete(self._tx.trash)
            finally:
                self._tx = None

    def _rollback(self, tx: _Transaction) -> None:
        for name in tx.touched:
            folder = self.files.path(name)
            if name in tx.swapped:
                self.files.delete(folder)
                self.files.rename(f"{tx.trash}/{name}", folder)
            # Files keep their names when a folder moves: whatever was not there at the start
            # was written during the transaction.
            for extra in self.files.data_files(folder) - tx.files.get(name, set()):
                self.files.delete(f"{folder}/{extra}")
            self._register(name)
        self.files.delete(tx.trash)

    # -- upkeep ------------------------------------------------------------------------
    def _stored(self, tables: Sequence[str] | None) -> list[str]:
        names = tables or [*TABLES, "goodwill_meta"]
        return [n for n in names if self.table_exists(n)]

    def optimize(self, tables: Sequence[str] | None = None) -> None:
        """Rewrite each table sorted by its sort key, so Parquet's min/max statistics let a
        point read skip most files."""
        with self._lock:
            for name in self._stored(tables):
                table = self._table(name)
                self._register(name)
                self._rewrite(table, self.spark.table(name), order=table.sort_key)

    def compact(self, tables: Sequence[str] | None = None) -> None:
        """Rewrite tables into fresh folders: deleted rows' bytes leave with the old files."""
        with self._lock:
            for name in self._stored(tables):
                self._register(name)
                self._rewrite(self._table(name), self.spark.table(name))
            for leftover in ("_gw_trash", "_gw_tmp"):
                if self._tx is None:
                    self.files.delete(self.files.path(leftover))
