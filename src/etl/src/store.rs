//! The warehouse: one schema, two backends (SQLite embedded, PostgreSQL for production).
//!
//! Statements are written once with `$n` placeholders (SQLite reads `?n`); values are the
//! few types the schema uses ([`Val`]). A batch of statements runs in ONE database
//! transaction ([`Store::transact`]), which is what keeps the rows and the cursor together.

use anyhow::{anyhow, bail, Context};
use std::collections::HashMap;

/// The schema this build writes and reads (`etl_meta.schema_version`).
pub const SCHEMA_VERSION: u32 = 1;

/// A bound parameter or a read column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Val {
    Int(Option<i64>),
    Text(Option<String>),
    Bytes(Option<Vec<u8>>),
}

impl Val {
    pub fn int(v: impl TryInto<i64>) -> Val {
        Val::Int(v.try_into().ok())
    }
    pub fn text(v: impl Into<String>) -> Val {
        Val::Text(Some(v.into()))
    }
    pub fn bytes(v: impl Into<Vec<u8>>) -> Val {
        Val::Bytes(Some(v.into()))
    }
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Val::Int(v) => *v,
            _ => None,
        }
    }
    pub fn as_u64(&self) -> anyhow::Result<u64> {
        self.as_i64()
            .and_then(|v| u64::try_from(v).ok())
            .ok_or_else(|| anyhow!("expected a non-negative integer, found {self:?}"))
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Val::Text(Some(s)) => Some(s),
            _ => None,
        }
    }
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Val::Bytes(Some(b)) => Some(b),
            _ => None,
        }
    }
}

/// One statement of a transaction; `expect_rows` fails the transaction (rolled back) when
/// the statement changes another number of rows.
#[derive(Debug, Clone)]
pub struct Stmt {
    pub sql: &'static str,
    pub params: Vec<Val>,
    pub expect_rows: Option<u64>,
}

impl Stmt {
    pub fn new(sql: &'static str, params: Vec<Val>) -> Stmt {
        Stmt {
            sql,
            params,
            expect_rows: None,
        }
    }
}

pub trait Store {
    /// Runs every statement in one transaction: all of it commits, or none.
    fn transact(&mut self, stmts: &[Stmt]) -> anyhow::Result<()>;
    fn query(&mut self, sql: &str, params: &[Val]) -> anyhow::Result<Vec<Vec<Val>>>;
    /// One statement outside a batch (tests use it to tamper with a row); rows changed.
    fn execute(&mut self, sql: &str, params: &[Val]) -> anyhow::Result<u64>;
    fn kind(&self) -> Kind;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// Opens an existing warehouse (`verify`): a missing SQLite file is an error, not a new one.
pub fn open_existing(url: &str) -> anyhow::Result<Box<dyn Store>> {
    if let Some(path) = url.strip_prefix("sqlite:") {
        let path = path.strip_prefix("//").unwrap_or(path);
        if !std::path::Path::new(path).exists() {
            bail!("no warehouse at {url}: {path} does not exist");
        }
    }
    open(url)
}

/// Opens `sqlite:PATH` or `postgres://…` and makes sure the schema is there and is ours.
pub fn open(url: &str) -> anyhow::Result<Box<dyn Store>> {
    let mut store: Box<dyn Store> = if let Some(path) = url.strip_prefix("sqlite:") {
        // `sqlite:///abs/path` and `sqlite:rel/path` both work.
        let path = path.strip_prefix("//").unwrap_or(path);
        if path.is_empty() {
            bail!("bad warehouse URL {url:?}: sqlite:PATH needs a path");
        }
        Box::new(Sqlite::open(path)?)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Box::new(Pg::open(url)?)
    } else {
        bail!("bad warehouse URL {url:?}: use sqlite:PATH or postgres://user@host:port/db");
    };
    init_schema(store.as_mut())?;
    Ok(store)
}

/// The tables (spec in docs/etl.md). `{I}` is a 64-bit integer, `{B}` a byte string.
const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS etl_meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS etl_cursor (
        grp {I} PRIMARY KEY,
        chain_id {I} NOT NULL,
        next_block {I} NOT NULL,
        next_interception {I} NOT NULL,
        interception_epoch_ms {I} NOT NULL,
        next_settlement {I} NOT NULL,
        updated_ms {I} NOT NULL)",
    "CREATE TABLE IF NOT EXISTS blocks (
        grp {I} NOT NULL,
        number {I} NOT NULL,
        hash TEXT NOT NULL,
        parent_hash TEXT NOT NULL,
        timestamp {I} NOT NULL,
        gas_limit {I} NOT NULL,
        gas_used {I} NOT NULL,
        base_fee_per_gas {I},
        miner TEXT NOT NULL,
        state_root TEXT NOT NULL,
        transactions_root TEXT NOT NULL,
        receipts_root TEXT NOT NULL,
        logs_bloom TEXT NOT NULL,
        extra_data {B} NOT NULL,
        tx_count {I} NOT NULL,
        PRIMARY KEY (grp, number),
        UNIQUE (grp, hash))",
    "CREATE TABLE IF NOT EXISTS transactions (
        grp {I} NOT NULL,
        hash TEXT NOT NULL,
        block_number {I} NOT NULL,
        tx_index {I} NOT NULL,
        tx_type {I} NOT NULL,
        from_addr TEXT NOT NULL,
        to_addr TEXT,
        nonce {I} NOT NULL,
        value TEXT NOT NULL,
        gas_limit {I} NOT NULL,
        input {B} NOT NULL,
        raw {B} NOT NULL,
        PRIMARY KEY (grp, hash),
        UNIQUE (grp, block_number, tx_index),
        FOREIGN KEY (grp, block_number) REFERENCES blocks (grp, number))",
    "CREATE TABLE IF NOT EXISTS receipts (
        grp {I} NOT NULL,
        tx_hash TEXT NOT NULL,
        block_number {I} NOT NULL,
        tx_index {I} NOT NULL,
        tx_type {I} NOT NULL,
        status {I} NOT NULL,
        cumulative_gas_used {I} NOT NULL,
        gas_used {I} NOT NULL,
        effective_gas_price TEXT NOT NULL,
        contract_address TEXT,
        log_count {I} NOT NULL,
        PRIMARY KEY (grp, tx_hash),
        UNIQUE (grp, block_number, tx_index),
        FOREIGN KEY (grp, tx_hash) REFERENCES transactions (grp, hash))",
    "CREATE TABLE IF NOT EXISTS logs (
        grp {I} NOT NULL,
        block_number {I} NOT NULL,
        log_index {I} NOT NULL,
        tx_hash TEXT NOT NULL,
        tx_index {I} NOT NULL,
        address TEXT NOT NULL,
        topic_count {I} NOT NULL,
        topic0 TEXT,
        topic1 TEXT,
        topic2 TEXT,
        topic3 TEXT,
        data {B} NOT NULL,
        PRIMARY KEY (grp, block_number, log_index),
        FOREIGN KEY (grp, tx_hash) REFERENCES receipts (grp, tx_hash))",
    "CREATE TABLE IF NOT EXISTS interceptions (
        grp {I} NOT NULL,
        epoch_ms {I} NOT NULL,
        seq {I} NOT NULL,
        time_ms {I} NOT NULL,
        block_number {I} NOT NULL,
        tx_hash TEXT NOT NULL,
        from_addr TEXT NOT NULL,
        to_addr TEXT,
        rule TEXT NOT NULL,
        reason TEXT NOT NULL,
        PRIMARY KEY (grp, epoch_ms, seq))",
    "CREATE TABLE IF NOT EXISTS settlements (
        grp {I} NOT NULL,
        seq {I} NOT NULL,
        chain_id {I} NOT NULL,
        block_number {I} NOT NULL,
        amount TEXT NOT NULL,
        cumulative TEXT NOT NULL,
        proof {B} NOT NULL,
        PRIMARY KEY (grp, seq))",
    "CREATE INDEX IF NOT EXISTS transactions_from ON transactions (grp, from_addr)",
    "CREATE INDEX IF NOT EXISTS transactions_to ON transactions (grp, to_addr)",
    "CREATE INDEX IF NOT EXISTS logs_address ON logs (grp, address)",
    "CREATE INDEX IF NOT EXISTS logs_topic0 ON logs (grp, topic0)",
];

/// Every table this schema owns, for the schema check.
pub const TABLES: &[&str] = &[
    "etl_meta",
    "etl_cursor",
    "blocks",
    "transactions",
    "receipts",
    "logs",
    "interceptions",
    "settlements",
];

fn init_schema(store: &mut dyn Store) -> anyhow::Result<()> {
    let existing = match store.kind() {
        Kind::Sqlite => store.query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            &[],
        )?,
        Kind::Postgres => store.query(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema()",
            &[],
        )?,
    };
    let existing: Vec<String> = existing
        .iter()
        .filter_map(|r| r.first().and_then(Val::as_str).map(str::to_string))
        .collect();
    let ours = existing
        .iter()
        .filter(|t| TABLES.contains(&t.as_str()))
        .count();
    if ours > 0 {
        if !existing.iter().any(|t| t == "etl_meta") {
            bail!(
                "schema mismatch: the database has tables named like the warehouse's ({}) but no \
                 etl_meta table; it was not written by `bcos etl`",
                existing.join(", ")
            );
        }
        let version = store.query(
            "SELECT value FROM etl_meta WHERE key = 'schema_version'",
            &[],
        )?;
        let version = version
            .first()
            .and_then(|r| r.first())
            .and_then(Val::as_str)
            .unwrap_or("none")
            .to_string();
        if version != SCHEMA_VERSION.to_string() {
            bail!(
                "schema mismatch: the warehouse has schema version {version}, this bcos reads and \
                 writes version {SCHEMA_VERSION}; export into a new database"
            );
        }
        let missing: Vec<&&str> = TABLES
            .iter()
            .filter(|t| !existing.iter().any(|e| e == *t))
            .collect();
        if !missing.is_empty() {
            bail!("schema mismatch: the warehouse lacks the tables {missing:?}");
        }
        return Ok(());
    }
    let (int, bytes) = match store.kind() {
        Kind::Sqlite => ("INTEGER", "BLOB"),
        Kind::Postgres => ("BIGINT", "BYTEA"),
    };
    let ddl: Vec<String> = SCHEMA
        .iter()
        .map(|s| s.replace("{I}", int).replace("{B}", bytes))
        .collect();
    let ddl: Vec<&'static str> = ddl
        .into_iter()
        .map(|s| &*Box::leak(s.into_boxed_str()))
        .collect();
    let mut stmts: Vec<Stmt> = ddl.into_iter().map(|s| Stmt::new(s, vec![])).collect();
    stmts.push(Stmt::new(
        "INSERT INTO etl_meta (key, value) VALUES ('schema_version', $1)",
        vec![Val::text(SCHEMA_VERSION.to_string())],
    ));
    store
        .transact(&stmts)
        .context("cannot create the warehouse schema")
}

/// `$n` → `?n` for SQLite.
fn sqlite_sql(sql: &str) -> String {
    sql.replace('$', "?")
}

pub struct Sqlite {
    conn: rusqlite::Connection,
}

/// How long SQLite waits for a lock held by another process (e.g. `verify` beside `--follow`).
pub const SQLITE_BUSY_TIMEOUT_MS: u64 = 30_000;

impl Sqlite {
    fn open(path: &str) -> anyhow::Result<Sqlite> {
        let conn = rusqlite::Connection::open(path)
            .with_context(|| format!("cannot open the SQLite warehouse {path}"))?;
        conn.busy_timeout(std::time::Duration::from_millis(SQLITE_BUSY_TIMEOUT_MS))?;
        // WAL: readers beside the exporter. synchronous=NORMAL: a committed batch may be lost
        // on power failure, but never half of one; the cursor goes with it and is re-exported.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        Ok(Sqlite { conn })
    }
}

impl rusqlite::ToSql for Val {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            Val::Int(v) => v.to_sql(),
            Val::Text(v) => v.to_sql(),
            Val::Bytes(v) => v.to_sql(),
        }
    }
}

fn sqlite_val(v: rusqlite::types::ValueRef<'_>) -> anyhow::Result<Val> {
    use rusqlite::types::ValueRef;
    Ok(match v {
        ValueRef::Null => Val::Int(None),
        ValueRef::Integer(i) => Val::Int(Some(i)),
        ValueRef::Real(f) => Val::Text(Some(f.to_string())),
        ValueRef::Text(t) => Val::Text(Some(String::from_utf8(t.to_vec())?)),
        ValueRef::Blob(b) => Val::Bytes(Some(b.to_vec())),
    })
}

impl Store for Sqlite {
    fn transact(&mut self, stmts: &[Stmt]) -> anyhow::Result<()> {
        let tx = self.conn.transaction()?;
        for s in stmts {
            let mut st = tx.prepare_cached(&sqlite_sql(s.sql))?;
            let n = st
                .execute(rusqlite::params_from_iter(s.params.iter()))
                .with_context(|| s.sql.lines().next().unwrap_or("").to_string())?;
            if let Some(want) = s.expect_rows {
                if n as u64 != want {
                    bail!("{}: changed {n} rows, expected {want}", s.sql);
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn query(&mut self, sql: &str, params: &[Val]) -> anyhow::Result<Vec<Vec<Val>>> {
        let mut st = self.conn.prepare_cached(&sqlite_sql(sql))?;
        let cols = st.column_count();
        let mut rows = st.query(rusqlite::params_from_iter(params.iter()))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let mut r = Vec::with_capacity(cols);
            for i in 0..cols {
                r.push(sqlite_val(row.get_ref(i)?)?);
            }
            out.push(r);
        }
        Ok(out)
    }

    fn execute(&mut self, sql: &str, params: &[Val]) -> anyhow::Result<u64> {
        let n = self
            .conn
            .execute(&sqlite_sql(sql), rusqlite::params_from_iter(params.iter()))?;
        Ok(n as u64)
    }

    fn kind(&self) -> Kind {
        Kind::Sqlite
    }
}

pub struct Pg {
    client: postgres::Client,
    prepared: HashMap<&'static str, postgres::Statement>,
}

/// How long connecting to PostgreSQL may take.
pub const PG_CONNECT_TIMEOUT_MS: u64 = 10_000;

impl Pg {
    fn open(url: &str) -> anyhow::Result<Pg> {
        let mut config: postgres::Config = url
            .parse()
            .with_context(|| format!("bad PostgreSQL URL {url:?}"))?;
        config.connect_timeout(std::time::Duration::from_millis(PG_CONNECT_TIMEOUT_MS));
        let mut client = config
            .connect(postgres::NoTls)
            .with_context(|| format!("cannot connect to PostgreSQL at {url}"))?;
        client.batch_execute("SET client_min_messages = WARNING")?;
        Ok(Pg {
            client,
            prepared: HashMap::new(),
        })
    }
}

fn pg_params(params: &[Val]) -> Vec<&(dyn postgres::types::ToSql + Sync)> {
    params
        .iter()
        .map(|v| -> &(dyn postgres::types::ToSql + Sync) {
            match v {
                Val::Int(v) => v,
                Val::Text(v) => v,
                Val::Bytes(v) => v,
            }
        })
        .collect()
}

fn pg_row(row: &postgres::Row) -> anyhow::Result<Vec<Val>> {
    use postgres::types::Type;
    let mut out = Vec::with_capacity(row.len());
    for (i, col) in row.columns().iter().enumerate() {
        let t = col.type_();
        out.push(if *t == Type::INT8 {
            Val::Int(row.try_get::<_, Option<i64>>(i)?)
        } else if *t == Type::INT4 {
            Val::Int(row.try_get::<_, Option<i32>>(i)?.map(i64::from))
        } else if *t == Type::INT2 {
            Val::Int(row.try_get::<_, Option<i16>>(i)?.map(i64::from))
        } else if *t == Type::BYTEA {
            Val::Bytes(row.try_get::<_, Option<Vec<u8>>>(i)?)
        } else if *t == Type::TEXT || *t == Type::VARCHAR || *t == Type::NAME {
            Val::Text(row.try_get::<_, Option<String>>(i)?)
        } else {
            bail!(
                "column {} has type {t}, which the warehouse never uses",
                col.name()
            );
        });
    }
    Ok(out)
}

/// Rows one multi-row INSERT carries at most (PostgreSQL takes at most 65,535 parameters
/// per statement; the widest row here has 15).
pub const PG_ROWS_PER_INSERT_MAX: usize = 1_000;
const PG_PARAMS_PER_STATEMENT_MAX: usize = 65_535;

/// Consecutive plain INSERTs of one statement, `VALUES (...)` with `width` parameters, as
/// one INSERT of `rows` rows.
fn multi_row_insert(sql: &str, width: usize, rows: usize) -> Option<String> {
    let at = sql.find(" VALUES (")?;
    let mut out = String::with_capacity(at + rows * width * 5);
    out.push_str(&sql[..at]);
    out.push_str(" VALUES ");
    for r in 0..rows {
        out.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..width {
            if c > 0 {
                out.push_str(", ");
            }
            out.push_str(&format!("${}", r * width + c + 1));
        }
        out.push(')');
    }
    Some(out)
}

fn plain_insert(s: &Stmt) -> bool {
    s.sql.starts_with("INSERT INTO") && s.expect_rows.is_none() && !s.params.is_empty()
}

/// Where a table's rows go in a stretch of inserts: referenced tables first (transactions
/// reference blocks, receipts transactions, logs receipts), then any other.
fn table_rank(sql: &str) -> (u8, &str) {
    let rank = [
        "INSERT INTO blocks ",
        "INSERT INTO transactions ",
        "INSERT INTO receipts ",
        "INSERT INTO logs ",
    ]
    .iter()
    .position(|p| sql.starts_with(p))
    .unwrap_or(4);
    (rank as u8, sql)
}

/// `stmts` with each stretch of plain INSERTs (no CREATE, no checked UPDATE among them)
/// ordered by table, referenced tables first, so a batch's rows of one table are adjacent.
/// Within one transaction, with every reference still inserted after what it references,
/// the order changes nothing.
fn by_table(stmts: &[Stmt]) -> Vec<&Stmt> {
    let mut out: Vec<&Stmt> = Vec::with_capacity(stmts.len());
    let mut stretch_from = 0;
    for s in stmts {
        if plain_insert(s) {
            out.push(s);
            continue;
        }
        out[stretch_from..].sort_by_key(|s| table_rank(s.sql));
        out.push(s);
        stretch_from = out.len();
    }
    out[stretch_from..].sort_by_key(|s| table_rank(s.sql));
    out
}

/// `table (columns)` of a plain `INSERT INTO table (columns) VALUES (...)`.
fn insert_target(sql: &str) -> Option<&str> {
    let rest = sql.strip_prefix("INSERT INTO ")?;
    Some(&rest[..rest.find(" VALUES (")?])
}

/// The PostgreSQL type a value is written as (the schema's BIGINT, TEXT and BYTEA).
fn pg_type(v: &Val) -> postgres::types::Type {
    use postgres::types::Type;
    match v {
        Val::Int(_) => Type::INT8,
        Val::Text(_) => Type::TEXT,
        Val::Bytes(_) => Type::BYTEA,
    }
}

/// Rows from which a run of inserts goes in by binary COPY instead of one multi-row INSERT:
/// COPY costs a round trip more to set up and is cheaper per row.
pub const PG_COPY_ROWS_MIN: usize = 64;

/// How many statements from `stmts[0]` on can go as one multi-row INSERT (1: alone).
fn insert_run(stmts: &[&Stmt]) -> usize {
    let Some(first) = stmts.first() else {
        return 0;
    };
    let width = first.params.len();
    if !plain_insert(first) {
        return 1;
    }
    let max = PG_ROWS_PER_INSERT_MAX.min(PG_PARAMS_PER_STATEMENT_MAX / width);
    stmts
        .iter()
        .take(max)
        .take_while(|s| s.sql == first.sql && s.expect_rows.is_none() && s.params.len() == width)
        .count()
}

impl Store for Pg {
    fn transact(&mut self, stmts: &[Stmt]) -> anyhow::Result<()> {
        let Pg { client, prepared } = self;
        let mut tx = client.transaction()?;
        let stmts = by_table(stmts);
        let mut at = 0;
        while at < stmts.len() {
            // Rows of one table go in multi-row INSERTs: one round trip per
            // `PG_ROWS_PER_INSERT_MAX` rows instead of one per row.
            let run = insert_run(&stmts[at..]);
            if run > 1 {
                let rows = &stmts[at..at + run];
                let first = rows[0];
                if run >= PG_COPY_ROWS_MIN {
                    let target = insert_target(first.sql)
                        .ok_or_else(|| anyhow!("not a VALUES insert: {}", first.sql))?;
                    let types: Vec<_> = first.params.iter().map(pg_type).collect();
                    let sink = tx
                        .copy_in(format!("COPY {target} FROM STDIN (FORMAT binary)").as_str())
                        .with_context(|| format!("COPY {target}"))?;
                    let mut writer = postgres::binary_copy::BinaryCopyInWriter::new(sink, &types);
                    for r in rows {
                        writer
                            .write(&pg_params(&r.params))
                            .with_context(|| format!("COPY {target}"))?;
                    }
                    let n = writer.finish().with_context(|| format!("COPY {target}"))?;
                    if n != run as u64 {
                        bail!("COPY {target}: wrote {n} rows of {run}");
                    }
                    at += run;
                    continue;
                }
                let sql = multi_row_insert(first.sql, first.params.len(), run)
                    .ok_or_else(|| anyhow!("not a VALUES insert: {}", first.sql))?;
                let params: Vec<Val> = rows.iter().flat_map(|r| r.params.iter().cloned()).collect();
                let n = tx
                    .execute(sql.as_str(), &pg_params(&params))
                    .with_context(|| first.sql.lines().next().unwrap_or("").to_string())?;
                if n != run as u64 {
                    bail!("{}: inserted {n} rows of {run}", first.sql);
                }
                at += run;
                continue;
            }
            let s = stmts[at];
            at += 1;
            // Prepared inside the transaction, after the statements before it (a table this
            // batch creates); prepared statements outlive the transaction.
            let n = if s.sql.trim_start().starts_with("CREATE") {
                tx.execute(s.sql, &pg_params(&s.params))
            } else {
                let st = match prepared.get(s.sql) {
                    Some(st) => st.clone(),
                    None => {
                        let st = tx.prepare(s.sql).with_context(|| s.sql.to_string())?;
                        prepared.insert(s.sql, st.clone());
                        st
                    }
                };
                tx.execute(&st, &pg_params(&s.params))
            }
            .with_context(|| s.sql.lines().next().unwrap_or("").to_string())?;
            if let Some(want) = s.expect_rows {
                if n != want {
                    bail!("{}: changed {n} rows, expected {want}", s.sql);
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn query(&mut self, sql: &str, params: &[Val]) -> anyhow::Result<Vec<Vec<Val>>> {
        let rows = self.client.query(sql, &pg_params(params))?;
        rows.iter().map(pg_row).collect()
    }

    fn execute(&mut self, sql: &str, params: &[Val]) -> anyhow::Result<u64> {
        Ok(self.client.execute(sql, &pg_params(params))?)
    }

    fn kind(&self) -> Kind {
        Kind::Postgres
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn bad_urls_are_refused_with_the_accepted_forms() {
        let e = open("mysql://x").err().unwrap().to_string();
        assert!(
            e.contains("sqlite:PATH") && e.contains("postgres://"),
            "{e}"
        );
        assert!(open("sqlite:").is_err());
    }

    #[test]
    fn a_batch_commits_whole_or_not_at_all_and_keys_refuse_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("w.db").display());
        let mut s = open(&url).unwrap();
        let ins = "INSERT INTO etl_meta (key, value) VALUES ($1, $2)";
        s.transact(&[Stmt::new(ins, vec![Val::text("a"), Val::text("1")])])
            .unwrap();
        // The second statement repeats a key: the first one's row must not survive.
        let r = s.transact(&[
            Stmt::new(ins, vec![Val::text("b"), Val::text("2")]),
            Stmt::new(ins, vec![Val::text("a"), Val::text("3")]),
        ]);
        assert!(r.is_err());
        let rows = s
            .query("SELECT key FROM etl_meta WHERE key IN ('a', 'b')", &[])
            .unwrap();
        assert_eq!(rows, vec![vec![Val::text("a")]]);
        // Reopening finds our schema; a foreign version is refused.
        drop(s);
        let mut s = open(&url).unwrap();
        s.execute(
            "UPDATE etl_meta SET value = '99' WHERE key = 'schema_version'",
            &[],
        )
        .unwrap();
        drop(s);
        let e = open(&url).err().unwrap().to_string();
        assert!(e.contains("schema mismatch") && e.contains("99"), "{e}");
    }

    #[test]
    fn multi_row_inserts_number_their_parameters_and_keep_other_statements_in_place() {
        let sql = "INSERT INTO t (a, b) VALUES ($1, $2)";
        assert_eq!(insert_target(sql), Some("t (a, b)"));
        assert_eq!(
            multi_row_insert(sql, 2, 3).unwrap(),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4), ($5, $6)"
        );
        let ins = |sql: &'static str| Stmt::new(sql, vec![Val::int(1)]);
        let update = Stmt {
            expect_rows: Some(1),
            ..Stmt::new("UPDATE c SET n = $1", vec![Val::int(1)])
        };
        let a = "INSERT INTO transactions (x) VALUES ($1)";
        let b = "INSERT INTO logs (x) VALUES ($1)";
        let stmts = [ins(b), ins(a), ins(b), update.clone(), ins(b), ins(a)];
        let order: Vec<&str> = by_table(&stmts).iter().map(|s| s.sql).collect();
        assert_eq!(order, [a, b, b, update.sql, a, b]);
        let sorted = by_table(&stmts);
        assert_eq!(insert_run(&sorted[1..]), 2);
        assert_eq!(insert_run(&sorted[3..]), 1);
    }

    #[test]
    fn foreign_tables_named_like_ours_are_a_schema_mismatch() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute("CREATE TABLE blocks (x INTEGER)", []).unwrap();
        drop(conn);
        let e = open(&format!("sqlite:{}", path.display()))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("schema mismatch"), "{e}");
    }
}
