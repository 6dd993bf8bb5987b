//! The `admin_sessions` table: server-side admin sessions with their CSRF token.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::Conn;
use super::schema::admin_sessions;

pub fn create(
    conn: &mut Conn,
    id_hash: &str,
    csrf_token: &str,
    now: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> anyhow::Result<()> {
    crate::db::exclusive(conn, |conn| {
        // Sessions are few; dropping the expired ones here keeps the table small.
        diesel::delete(admin_sessions::table.filter(admin_sessions::expires_at.le(now)))
            .execute(conn)?;
        diesel::insert_into(admin_sessions::table)
            .values((
                admin_sessions::id_hash.eq(id_hash),
                admin_sessions::csrf_token.eq(csrf_token),
                admin_sessions::created_at.eq(now),
                admin_sessions::expires_at.eq(expires_at),
            ))
            .execute(conn)?;
        Ok(())
    })
}

/// The CSRF token of a live session.
pub fn find_csrf(
    conn: &mut Conn,
    id_hash: &str,
    now: NaiveDateTime,
) -> anyhow::Result<Option<String>> {
    Ok(admin_sessions::table
        .find(id_hash)
        .filter(admin_sessions::expires_at.gt(now))
        .select(admin_sessions::csrf_token)
        .first(conn)
        .optional()?)
}

pub fn delete(conn: &mut Conn, id_hash: &str) -> anyhow::Result<()> {
    diesel::delete(admin_sessions::table.find(id_hash)).execute(conn)?;
    Ok(())
}
