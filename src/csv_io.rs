//! Subscriber lists as CSV: export everyone, import `email,name` rows as confirmed,
//! on the default newsletter or on those named (`--newsletter`, or a `newsletters`
//! column of slugs separated by `;`), in the language of a `language` column if any.

use std::collections::HashMap;
use std::io::{Read, Seek, Write};

use anyhow::Context;

use crate::db::{self, Db, newsletters, subscribers};
use crate::domain::{EmailAddress, SubscriberName};
use crate::i18n::Language;
use crate::limits;

/// What an import did; bad rows are reported with their line number.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub imported: usize,
    /// Rows whose address was already on the list (left as they are).
    pub already_present: usize,
    /// Rows that could not be imported, listed or not.
    pub rejected: usize,
    /// `(line, reason)` for the first [`limits::CSV_REPORTED_ROWS`] rejected rows.
    pub first_rejections: Vec<(u64, String)>,
    /// `(line, why)` when reading stopped before the end of the file (more than
    /// [`limits::CSV_ROWS`] rows, or a record longer than [`limits::CSV_RECORD_BYTES`]);
    /// the rows before it are imported, nothing from there on was read.
    pub stopped: Option<(u64, String)>,
}

impl ImportReport {
    fn reject(&mut self, line: u64, reason: String) {
        self.rejected += 1;
        if self.first_rejections.len() < limits::CSV_REPORTED_ROWS {
            self.first_rejections.push((line, reason));
        }
    }

    /// Rejected rows the report only counts (past the first ones it lists).
    pub fn unlisted(&self) -> usize {
        self.rejected - self.first_rejections.len()
    }

    /// Whether every row of the file was imported or already present.
    pub fn is_clean(&self) -> bool {
        self.rejected == 0 && self.stopped.is_none()
    }
}

/// Rows written to the database in one transaction: fast, and a huge file does not
/// hold the write lock for long.
const CHUNK_ROWS: usize = 1000;

/// Reads `email,name` rows (header row required, extra columns ignored) and adds each
/// new address as confirmed, as when moving from another provider. Good rows are
/// imported even when others are bad. Work and memory are bounded whatever the file:
/// rows are read and stored a chunk at a time, at most [`limits::CSV_ROWS`] of them
/// (good and bad), a record may not exceed [`limits::CSV_RECORD_BYTES`], and only the
/// first rejected rows are kept for the report.
pub fn import(db: &Db, input: impl Read) -> anyhow::Result<ImportReport> {
    import_into(db, input, &[])
}

/// The newsletters an import may put readers on: slug → id, archived ones left out.
fn importable_newsletters(db: &Db) -> anyhow::Result<HashMap<String, i64>> {
    Ok(db
        .run_blocking(newsletters::all)?
        .into_iter()
        .filter(|n| !n.archived)
        .map(|n| (n.slug, n.id))
        .collect())
}

/// The ids of the newsletters `slugs` name, or a sentence naming the first unknown or
/// archived one.
fn resolve_slugs<'a>(
    known: &HashMap<String, i64>,
    slugs: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<i64>, String> {
    let mut ids = Vec::new();
    for slug in slugs {
        let Some(id) = known.get(slug) else {
            let mut names: Vec<&str> = known.keys().map(String::as_str).collect();
            names.sort_unstable();
            return Err(format!(
                "there is no newsletter `{}` (newsletters: {})",
                shown_cell(slug),
                names.join(", ")
            ));
        };
        if !ids.contains(id) {
            ids.push(*id);
        }
    }
    Ok(ids)
}

/// A `newsletters` cell's slugs: separated by `;`, trimmed, empty ones skipped.
fn cell_slugs(cell: &str) -> impl Iterator<Item = &str> {
    cell.split(';').map(str::trim).filter(|s| !s.is_empty())
}

/// [`import_into`], but first the whole file is read for the newsletters it names: when
/// `into` or any row's `newsletters` cell names an unknown or archived newsletter, the
/// import is refused before anything is stored, with the line that names it.
pub fn import_checked(
    db: &Db,
    mut input: impl Read + Seek,
    into: &[String],
) -> anyhow::Result<ImportReport> {
    let known = importable_newsletters(db)?;
    resolve_slugs(&known, into.iter().map(String::as_str)).map_err(|e| anyhow::anyhow!(e))?;
    {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(RecordCapped::new(&mut input, limits::CSV_RECORD_BYTES));
        let headers = reader
            .headers()
            .context("the CSV file has no header row")?
            .clone();
        if let Some(col) = headers
            .iter()
            .position(|h| h.eq_ignore_ascii_case("newsletters"))
        {
            for record in reader.records().take(limits::CSV_ROWS) {
                // Unreadable rows are the import's to report; where it stops, so does this.
                let record = match record {
                    Ok(record) => record,
                    Err(e) if matches!(e.kind(), csv::ErrorKind::Io(_)) => break,
                    Err(_) => continue,
                };
                let cell = from_spreadsheet_safe(record.get(col).unwrap_or_default());
                if let Err(e) = resolve_slugs(&known, cell_slugs(cell)) {
                    let line = record.position().map(|p| p.line()).unwrap_or_default();
                    anyhow::bail!("line {line}: {e}; nothing was imported");
                }
            }
        }
    }
    input.rewind()?;
    import_into(db, input, into)
}

/// [`import`], each new reader confirmed on the newsletters `into` (slugs) names and
/// those of their row's `newsletters` cell; on the default newsletter when neither
/// names one. An unknown or archived newsletter in `into` refuses the import; in a
/// row, it rejects that row.
pub fn import_into(db: &Db, input: impl Read, into: &[String]) -> anyhow::Result<ImportReport> {
    let known = importable_newsletters(db)?;
    let into_ids =
        resolve_slugs(&known, into.iter().map(String::as_str)).map_err(|e| anyhow::anyhow!(e))?;
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(RecordCapped::new(input, limits::CSV_RECORD_BYTES));
    let headers = reader
        .headers()
        .context("the CSV file has no header row")?
        .clone();
    let column = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let email_col = column("email").context("the CSV header row has no `email` column")?;
    let name_col = column("name");
    let newsletters_col = column("newsletters");
    let language_col = column("language");

    let now = db::now();
    let mut report = ImportReport::default();
    let mut chunk = Vec::with_capacity(CHUNK_ROWS);
    let mut last_line = 1;
    for (rows, record) in reader.records().enumerate() {
        let line = match &record {
            Ok(record) => record.position().map(|p| p.line()),
            Err(e) => e.position().map(|p| p.line()),
        }
        .unwrap_or(last_line + 1);
        last_line = line;
        if rows == limits::CSV_ROWS {
            report.stopped = Some((
                line,
                format!(
                    "stopped here: an import takes at most {} rows; split the file",
                    limits::CSV_ROWS
                ),
            ));
            break;
        }
        let record = match record {
            Ok(record) => record,
            // A record over the cap ends the import: what follows cannot be read
            // safely. What came before is stored.
            Err(e) if matches!(e.kind(), csv::ErrorKind::Io(_)) => {
                report.stopped = Some((line, format!("stopped here: {e}")));
                break;
            }
            Err(e) => {
                report.reject(line, format!("unreadable row: {e}"));
                continue;
            }
        };
        let email = parse_email_cell(record.get(email_col).unwrap_or_default());
        let name = parse_name_cell(name_col.and_then(|c| record.get(c)).unwrap_or_default());
        let cell = from_spreadsheet_safe(
            newsletters_col
                .and_then(|c| record.get(c))
                .unwrap_or_default(),
        );
        let on = resolve_slugs(&known, cell_slugs(cell)).map(|mut ids| {
            ids.extend(
                into_ids
                    .iter()
                    .filter(|id| !ids.contains(id))
                    .collect::<Vec<_>>(),
            );
            if ids.is_empty() {
                ids.push(newsletters::DEFAULT_NEWSLETTER_ID);
            }
            ids
        });
        let language =
            parse_language_cell(language_col.and_then(|c| record.get(c)).unwrap_or_default());
        match (email, name, on, language) {
            (Ok(email), Ok(name), Ok(on), Ok(language)) => {
                chunk.push(Row {
                    email,
                    name,
                    on,
                    language,
                });
            }
            (Err(e), _, _, _) | (_, Err(e), _, _) | (_, _, Err(e), _) | (_, _, _, Err(e)) => {
                report.reject(line, e);
            }
        }
        if chunk.len() == CHUNK_ROWS {
            store_chunk(db, &mut chunk, now, &mut report)?;
        }
    }
    store_chunk(db, &mut chunk, now, &mut report)?;
    Ok(report)
}

/// The email cell of a row, or why it is no address, in the words of a file (the
/// domain's reasons speak to a person at the sign-up form).
fn parse_email_cell(cell: &str) -> Result<EmailAddress, String> {
    let raw = from_spreadsheet_safe(cell);
    if raw.trim().is_empty() {
        return Err("the email column is empty".to_owned());
    }
    EmailAddress::parse(raw).map_err(|why| {
        let shown = shown_cell(raw);
        match file_words(&why) {
            Some(detail) => format!("`{shown}` is not an email address: {detail}"),
            None => format!("`{shown}` is not an email address"),
        }
    })
}

/// The language cell of a row (empty: the reader reads DEFAULT_LANGUAGE), or why it is
/// none we write in.
fn parse_language_cell(cell: &str) -> Result<Option<Language>, String> {
    let raw = from_spreadsheet_safe(cell).trim();
    if raw.is_empty() {
        return Ok(None);
    }
    Language::parse(raw).map(Some).ok_or_else(|| {
        let known: Vec<&str> = Language::ALL.iter().map(|l| l.code()).collect();
        format!(
            "`{}` is not a language the newsletter is written in ({})",
            shown_cell(raw),
            known.join(", ")
        )
    })
}

/// The name cell of a row (empty is fine), or why it cannot be a name.
fn parse_name_cell(cell: &str) -> Result<Option<SubscriberName>, String> {
    SubscriberName::parse_optional(from_spreadsheet_safe(cell)).map_err(|why| {
        if why.contains("characters.") && why.starts_with("Please keep") {
            format!(
                "the name is longer than {} characters",
                SubscriberName::MAX_CHARS
            )
        } else if let Some(rest) = why.strip_prefix("A name ") {
            format!("the name {}", rest.trim_end_matches('.'))
        } else {
            format!("the name column: {}", why.trim_end_matches('.'))
        }
    })
}

/// A form's sentence ("An email address cannot contain spaces or line breaks.") as a
/// clause for a report line; `None` for the generic "doesn't look like an address",
/// which the report line already says.
fn file_words(why: &str) -> Option<String> {
    if why.starts_with("That doesn’t look like") {
        return None;
    }
    let clause = why.trim_end_matches('.');
    let mut chars = clause.chars();
    let first = chars.next()?;
    Some(first.to_lowercase().chain(chars).collect())
}

/// A cell as a report line quotes it: control characters shown as `?`, at most 60
/// characters.
fn shown_cell(raw: &str) -> String {
    let raw = raw.trim();
    let mut shown: String = raw
        .chars()
        .take(60)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if raw.chars().count() > 60 {
        shown.push('…');
    }
    shown
}

/// A reader that fails once a CSV record grows past `max` bytes. It follows the quoting
/// (a line break inside a quoted field does not end the record; `""` is an escaped
/// quote), so the CSV reader, which buffers a record at a time, never holds more.
struct RecordCapped<R> {
    inner: R,
    max: usize,
    in_record: usize,
    quoted: bool,
}

impl<R> RecordCapped<R> {
    fn new(inner: R, max: usize) -> RecordCapped<R> {
        RecordCapped {
            inner,
            max,
            in_record: 0,
            quoted: false,
        }
    }
}

impl<R: Read> Read for RecordCapped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        for &byte in &buf[..n] {
            match byte {
                b'"' => self.quoted = !self.quoted,
                b'\n' if !self.quoted => {
                    self.in_record = 0;
                    continue;
                }
                _ => {}
            }
            self.in_record += 1;
            if self.in_record > self.max {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("a row is longer than {}", limits::human_bytes(self.max)),
                ));
            }
        }
        Ok(n)
    }
}

/// A row as read: the address, the name, the newsletters and the language.
struct Row {
    email: EmailAddress,
    name: Option<SubscriberName>,
    on: Vec<i64>,
    language: Option<Language>,
}

/// Stores a chunk of parsed rows in one transaction and empties it.
fn store_chunk(
    db: &Db,
    chunk: &mut Vec<Row>,
    now: chrono::NaiveDateTime,
    report: &mut ImportReport,
) -> anyhow::Result<()> {
    if chunk.is_empty() {
        return Ok(());
    }
    let imported = db.write_blocking(|conn| {
        crate::db::exclusive(conn, |conn| {
            let mut imported = 0;
            for row in chunk.iter() {
                let inserted = subscribers::import_confirmed_into(
                    conn,
                    &row.email,
                    row.name.as_ref(),
                    &row.on,
                    now,
                )?;
                if let Some(id) = inserted {
                    // A new reader only: one already present is left as they are.
                    if let Some(language) = row.language {
                        subscribers::set_language(conn, id, language)?;
                    }
                    imported += 1;
                }
            }
            Ok::<_, anyhow::Error>(imported)
        })
    })?;
    report.imported += imported;
    report.already_present += chunk.len() - imported;
    chunk.clear();
    Ok(())
}

/// Writes every subscriber as CSV:
/// `email,name,status,created_at,confirmed_at,unsubscribed_at,language,newsletters`,
/// `newsletters` the slugs of the newsletters the reader is on (confirmed or pending),
/// separated by `;`, as an import reads them, and `language` the reader's (`en`, `ru`,
/// `kk`; empty: DEFAULT_LANGUAGE).
pub fn export(db: &Db, output: impl Write) -> anyhow::Result<usize> {
    let (rows, on) = db.run_blocking(|conn| {
        let rows = subscribers::all(conn)?;
        let on = crate::db::subscriptions::slugs_on(conn)?;
        Ok((rows, on))
    })?;
    let mut writer = csv::Writer::from_writer(output);
    writer.write_record([
        "email",
        "name",
        "status",
        "created_at",
        "confirmed_at",
        "unsubscribed_at",
        "language",
        "newsletters",
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
            s.language.as_deref().unwrap_or_default(),
            &on.get(&s.id)
                .map(|slugs| slugs.join(";"))
                .unwrap_or_default(),
        ])?;
    }
    writer.flush()?;
    Ok(rows.len())
}

/// Cells starting with `=`, `+`, `-` or `@` run as formulas when the file is opened in a
/// spreadsheet; a leading `'` keeps them text. [`import`] takes it off again. A cell
/// that itself starts with `'` gets one more, so it comes back as it was.
const FORMULA_STARTS: [char; 5] = ['=', '+', '-', '@', '\''];

fn spreadsheet_safe(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(FORMULA_STARTS) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

/// Undoes [`spreadsheet_safe`].
fn from_spreadsheet_safe(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(FORMULA_STARTS) => rest,
        _ => cell,
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::{RecordCapped, from_spreadsheet_safe, spreadsheet_safe};

    #[test]
    fn a_record_over_the_cap_is_an_error_even_when_its_lines_are_short() {
        let mut ok = String::new();
        RecordCapped::new(&b"abcd\nefgh\n\"a\nb\"\n"[..], 5)
            .read_to_string(&mut ok)
            .unwrap();
        assert_eq!(ok, "abcd\nefgh\n\"a\nb\"\n");
        // One quoted field of many short lines is one long record.
        let quoted = format!("\"{}\"\n", "line\n".repeat(1000));
        let err = RecordCapped::new(quoted.as_bytes(), 1024)
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert_eq!(err.to_string(), "a row is longer than 1 KB");
        let escaped = format!("\"{}\"\n", "say \"\"hi\"\"\n".repeat(10));
        assert!(
            RecordCapped::new(escaped.as_bytes(), 1024)
                .read_to_end(&mut Vec::new())
                .is_ok()
        );
    }

    #[test]
    fn formula_like_cells_are_kept_as_text_and_come_back_unchanged() {
        for cell in [
            "=HYPERLINK(\"http://x\")",
            "+1",
            "-2",
            "@SUM(A1)",
            "Akan",
            "'quoted",
            "'=not a formula",
            "''",
        ] {
            let safe = spreadsheet_safe(cell);
            assert!(!safe.starts_with(['=', '+', '-', '@']), "{safe}");
            assert_eq!(from_spreadsheet_safe(&safe), cell);
        }
    }
}
