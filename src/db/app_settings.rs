//! Values the service generates once and keeps, such as the signing secret.

use diesel::prelude::*;

use super::Conn;
use super::schema::app_settings;

/// Returns the value stored under `name`, first storing `make()` if there is none.
/// Safe against two processes starting at once: the first insert wins.
pub fn get_or_insert_with(
    conn: &mut Conn,
    name: &str,
    make: impl FnOnce() -> String,
) -> anyhow::Result<String> {
    crate::db::exclusive(conn, |conn| {
        let existing: Option<String> = app_settings::table
            .find(name)
            .select(app_settings::value)
            .first(conn)
            .optional()?;
        if let Some(value) = existing {
            return Ok(value);
        }
        let value = make();
        diesel::insert_into(app_settings::table)
            .values((app_settings::name.eq(name), app_settings::value.eq(&value)))
            .execute(conn)?;
        Ok(value)
    })
}

/// The value stored under `name`, if any.
pub fn get(conn: &mut Conn, name: &str) -> anyhow::Result<Option<String>> {
    Ok(app_settings::table
        .find(name)
        .select(app_settings::value)
        .first(conn)
        .optional()?)
}

/// Stores `value` under `name`, replacing what was there; `None` removes it.
pub fn set(conn: &mut Conn, name: &str, value: Option<&str>) -> anyhow::Result<()> {
    match value {
        Some(value) => {
            let upsert = diesel::insert_into(app_settings::table)
                .values((app_settings::name.eq(name), app_settings::value.eq(value)))
                .on_conflict(app_settings::name)
                .do_update()
                .set(app_settings::value.eq(value));
            crate::on_engine!(conn, |c| upsert.execute(c))?;
        }
        None => {
            diesel::delete(app_settings::table.find(name)).execute(conn)?;
        }
    }
    Ok(())
}
