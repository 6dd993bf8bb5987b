//! Subscriber lists as CSV: export everyone, import `email,name` rows as confirmed.

use std::io::{Read, Write};

use anyhow::Context;

use crate::db::{self, Db, subscribers};
use crate::domain::{EmailAddress, SubscriberName};

/// What an import did; bad rows are reported with their line number.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub imported: usize,
    /// Rows whose address was already on the list (left as they are).
    pub already_present: usize,
    /// `(line, reason)` for each row that could not be imported.
    pub rejected: Vec<(u64, String)>,
}

/// The most rows one import takes; a bigger list can be split.
const MAX_ROWS: usize = 1_000_000;

/// Reads `email,name` rows (header row required, extra columns ignored) and adds each
/// new address as confirmed, as when moving from another provider. Good rows are
/// imported even when others are bad.
pub fn import(db: &Db, input: impl Read) -> anyhow::Result<ImportReport> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(input);
    let headers = reader
        .headers()
        .context("the CSV file has no header row")?
        .clone();
    let column = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let email_col = column("email").context("the CSV header row has no `email` column")?;
    let name_col = column("name");

    let mut report = ImportReport::default();
    let mut parsed = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                report.rejected.push((line, format!("unreadable row: {e}")));
                continue;
            }
        };
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        if parsed.len() >= MAX_ROWS {
            report
                .rejected
                .push((line, format!("more than {MAX_ROWS} rows; split the file")));
            break;
        }
        let email = EmailAddress::parse(from_spreadsheet_safe(
            record.get(email_col).unwrap_or_default(),
        ));
        let name = SubscriberName::parse_optional(from_spreadsheet_safe(
            name_col.and_then(|c| record.get(c)).unwrap_or_default(),
        ));
        match (email, name) {
            (Ok(email), Ok(name)) => parsed.push((email, name)),
            (Err(e), _) | (_, Err(e)) => report.rejected.push((line, e)),
        }
    }

    let now = db::now();
    // One transaction per chunk: fast, and a huge file does not hold the lock for long.
    for chunk in parsed.chunks(1000) {
        let (imported, present) = db.run_blocking(|conn| {
            conn.immediate_transaction(|conn| {
                let mut imported = 0;
                for (email, name) in chunk {
                    if subscribers::import_confirmed(conn, email, name.as_ref(), now)? {
                        imported += 1;
                    }
                }
                Ok::<_, anyhow::Error>((imported, chunk.len() - imported))
            })
        })?;
        report.imported += imported;
        report.already_present += present;
    }
    Ok(report)
}

/// Writes every subscriber as CSV: `email,name,status,created_at,confirmed_at,unsubscribed_at`.
pub fn export(db: &Db, output: impl Write) -> anyhow::Result<usize> {
    let rows = db.run_blocking(subscribers::all)?;
    let mut writer = csv::Writer::from_writer(output);
    writer.write_record([
        "email",
        "name",
        "status",
        "created_at",
        "confirmed_at",
        "unsubscribed_at",
    ])?;
    let time = |t: Option<chrono::NaiveDateTime>| t.map(db::utc::format).unwrap_or_default();
    for s in &rows {
        writer.write_record([
            &spreadsheet_safe(&s.email),
            &spreadsheet_safe(s.name.as_deref().unwrap_or_default()),
            s.status.as_str(),
            &time(Some(s.created_at)),
            &time(s.confirmed_at),
            &time(s.unsubscribed_at),
        ])?;
    }
    writer.flush()?;
    Ok(rows.len())
}

/// Cells starting with `=`, `+`, `-` or `@` run as formulas when the file is opened in a
/// spreadsheet; a leading `'` keeps them text. [`import`] takes it off again.
fn spreadsheet_safe(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@']) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

/// Undoes [`spreadsheet_safe`].
fn from_spreadsheet_safe(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@']) => rest,
        _ => cell,
    }
}

#[cfg(test)]
mod tests {
    use super::{from_spreadsheet_safe, spreadsheet_safe};

    #[test]
    fn formula_like_cells_are_kept_as_text_and_come_back_unchanged() {
        for cell in [
            "=HYPERLINK(\"http://x\")",
            "+1",
            "-2",
            "@SUM(A1)",
            "Akan",
            "'quoted",
        ] {
            let safe = spreadsheet_safe(cell);
            assert!(!safe.starts_with(['=', '+', '-', '@']), "{safe}");
            assert_eq!(from_spreadsheet_safe(&safe), cell);
        }
    }
}
