//! `csv_io::import` on any bytes: never panics, and every data row read is imported,
//! already present or rejected (the first hundred listed with their line).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use newsletter::csv_io;
use newsletter::db::Db;

/// One in-memory database for the whole run, shared by the pool's connections; rows
/// from earlier inputs count as already present, which the accounting allows for.
fn db() -> &'static Db {
    static DB: OnceLock<Db> = OnceLock::new();
    DB.get_or_init(|| {
        Db::open("file:fuzz-csv-import?mode=memory&cache=shared").expect("an in-memory database")
    })
}

fuzz_target!(|csv: &[u8]| {
    let rows = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(csv)
        .records()
        .count();
    match csv_io::import(db(), csv) {
        Ok(report) => {
            let accounted = report.imported + report.already_present + report.rejected;
            // Reading may stop early (a record over the size bound); what was read is
            // still accounted for.
            if report.stopped.is_some() {
                assert!(accounted <= rows, "{report:?}");
            } else {
                assert_eq!(accounted, rows, "{report:?}");
            }
            assert!(report.first_rejections.len() <= report.rejected.min(100));
        }
        Err(e) => assert!(format!("{e:#}").contains("header"), "{e:#}"),
    }
});
