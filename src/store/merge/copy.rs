//! Copying runs from a source database into the target, by column name:
//! the columns of each table that both files have, so that a source of an
//! older schema merges and the target's defaults fill what it lacks.

use std::path::Path;

use rusqlite::types::ToSqlOutput::Borrowed;
use rusqlite::Connection;

use super::{OnFile, Source, Target};
use crate::store::schema::{self, RUN_TABLES};
use crate::store::Result;

/// Copies runs from one source into the target: the columns of each table
/// that both have, by name.
pub(super) struct Copier<'a> {
    source: &'a Connection,
    source_path: &'a Path,
    target: &'a Target<'a>,
    /// `runs`: the shared columns but `id`.
    run_columns: Vec<String>,
    /// Each run table of the target, with the columns the source shares
    /// with it but `run_id` (none: the source is older than the table).
    tables: Vec<(&'static str, Vec<String>)>,
}

impl<'a> Copier<'a> {
    pub(super) fn new(
        source: &'a Source,
        source_path: &'a Path,
        target: &'a Target<'a>,
    ) -> Result<Self> {
        let shared = |table: &str, key: &str| -> Result<Vec<String>> {
            let theirs = schema::columns(&source.conn, table).reading(source_path)?;
            let ours = schema::columns(target.tx, table).reading(target.path)?;
            Ok(ours
                .into_iter()
                .filter(|c| c != key && theirs.contains(c))
                .collect())
        };
        let run_columns = shared("runs", "id")?;
        let tables = RUN_TABLES
            .iter()
            .map(|&table| Ok((table, shared(table, "run_id")?)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Copier {
            source: &source.conn,
            source_path,
            target,
            run_columns,
            tables,
        })
    }

    /// Adds the source's run `from` to the target; gives its new id.
    pub(super) fn insert(&self, from: i64) -> Result<i64> {
        let columns = quoted(&self.run_columns);
        let sql = format!(
            "INSERT INTO runs ({}) VALUES ({})",
            columns.join(", "),
            placeholders(columns.len())
        );
        self.copy_run_row(from, &sql, None)?;
        let id = self.target.tx.last_insert_rowid();
        self.copy_rows(from, id)?;
        Ok(id)
    }

    /// Replaces the target's run `id` (its `runs` row, and every row of it
    /// in the run tables) with the source's run `from`.
    pub(super) fn replace(&self, from: i64, id: i64) -> Result<()> {
        let columns = quoted(&self.run_columns);
        let sets: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c} = ?{}", i + 1))
            .collect();
        let sql = format!(
            "UPDATE runs SET {} WHERE id = ?{}",
            sets.join(", "),
            columns.len() + 1
        );
        self.copy_run_row(from, &sql, Some(id))?;
        for (table, _) in &self.tables {
            let mut delete = self
                .target
                .tx
                .prepare_cached(&format!("DELETE FROM {table} WHERE run_id = ?1"))
                .writing(self.target.path)?;
            delete.execute([id]).writing(self.target.path)?;
        }
        self.copy_rows(from, id)
    }

    /// Runs `sql` (an insert or update of `runs`) on the target with the
    /// source's `runs` row `from` bound in column order, then `id` if given.
    fn copy_run_row(&self, from: i64, sql: &str, id: Option<i64>) -> Result<()> {
        let (source, target) = (self.source_path, self.target.path);
        let columns = quoted(&self.run_columns);
        let mut select = self
            .source
            .prepare_cached(&format!(
                "SELECT {} FROM runs WHERE id = ?1",
                columns.join(", ")
            ))
            .reading(source)?;
        let mut write = self.target.tx.prepare_cached(sql).writing(target)?;
        let mut rows = select.query([from]).reading(source)?;
        let row = rows
            .next()
            .reading(source)?
            .ok_or_else(|| rusqlite::Error::QueryReturnedNoRows)
            .reading(source)?;
        for i in 0..columns.len() {
            let value = row.get_ref(i).reading(source)?;
            write
                .raw_bind_parameter(i + 1, Borrowed(value))
                .writing(target)?;
        }
        if let Some(id) = id {
            write
                .raw_bind_parameter(columns.len() + 1, id)
                .writing(target)?;
        }
        write.raw_execute().writing(target)?;
        Ok(())
    }

    /// Copies every row of the source's run `from` in each run table to the
    /// target's run `to`.
    fn copy_rows(&self, from: i64, to: i64) -> Result<()> {
        let (source, target) = (self.source_path, self.target.path);
        for (table, columns) in self.tables.iter().filter(|(_, c)| !c.is_empty()) {
            let columns = quoted(columns);
            let list = columns.join(", ");
            let mut select = self
                .source
                .prepare_cached(&format!("SELECT {list} FROM {table} WHERE run_id = ?1"))
                .reading(source)?;
            let mut insert = self
                .target
                .tx
                .prepare_cached(&format!(
                    "INSERT INTO {table} (run_id, {list}) VALUES ({})",
                    placeholders(columns.len() + 1)
                ))
                .writing(target)?;
            let mut rows = select.query([from]).reading(source)?;
            while let Some(row) = rows.next().reading(source)? {
                insert.raw_bind_parameter(1, to).writing(target)?;
                for i in 0..columns.len() {
                    let value = row.get_ref(i).reading(source)?;
                    insert
                        .raw_bind_parameter(i + 2, Borrowed(value))
                        .writing(target)?;
                }
                insert.raw_execute().writing(target)?;
            }
        }
        Ok(())
    }
}

/// Column names as SQL identifiers.
fn quoted(columns: &[String]) -> Vec<String> {
    columns
        .iter()
        .map(|c| format!("\"{}\"", c.replace('"', "\"\"")))
        .collect()
}

/// `?1, ?2, …, ?n`.
fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}
