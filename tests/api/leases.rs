//! A worker's leases: renewing them while a long batch goes on and letting go at
//! shutdown look only at the rows the worker holds, through an index, never at every
//! queued row (at a million readers that was a quarter second holding the write lock,
//! every ten seconds of a batch on a slow server). Read off SQLite's own query plans
//! for the statements the queues really run, captured as they run.

use std::sync::{Arc, Mutex};

use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel::prelude::*;
use diesel::sql_types::Text;
use newsletter::db::{self, Conn, Db, deliveries, outgoing_emails};

use crate::support::TestDatabase;

/// Collects the SQL of every statement a connection starts.
#[derive(Clone, Default)]
struct Statements(Arc<Mutex<Vec<String>>>);

impl Instrumentation for Statements {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::StartQuery { query, .. } = event {
            // diesel shows a statement as its SQL, then ` -- binds: [...]`.
            let shown = query.to_string();
            let sql = shown.split(" -- binds:").next().unwrap_or_default();
            self.0.lock().unwrap().push(sql.to_owned());
        }
    }
}

#[derive(QueryableByName)]
struct PlanStep {
    #[diesel(sql_type = Text)]
    detail: String,
}

/// SQLite's plan for each statement `work` runs on `conn` (which keeps recording them:
/// give it a database of its own), one line per step.
fn plans_of(
    conn: &mut Conn,
    work: impl FnOnce(&mut Conn) -> anyhow::Result<()>,
) -> anyhow::Result<Vec<(String, String)>> {
    let statements = Statements::default();
    conn.set_instrumentation(statements.clone());
    work(conn)?;
    let sqls = statements.0.lock().unwrap().clone();
    sqls.into_iter()
        .map(|sql| {
            // Parameters left unbound are NULL: the plan does not depend on them.
            let steps: Vec<PlanStep> =
                diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}")).load(conn)?;
            let plan = steps
                .into_iter()
                .map(|s| s.detail)
                .collect::<Vec<_>>()
                .join("; ");
            Ok((sql, plan))
        })
        .collect()
}

#[tokio::test]
async fn renewing_and_releasing_leases_look_only_at_the_workers_own_rows() {
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::sqlite(dir.path().join("newsletter.db"));
    let db = Db::connect(database.url()).unwrap();
    db.migrate().unwrap();
    let plans = db
        .run(|conn| {
            // Statistics as the service keeps them once a digest is queued.
            deliveries::analyze(conn)?;
            let until = db::now();
            plans_of(conn, |conn| {
                deliveries::renew_leases(conn, "worker-1", until)?;
                deliveries::release(conn, "worker-1")?;
                outgoing_emails::renew_leases(conn, "worker-1", until)?;
                outgoing_emails::release(conn, "worker-1")
            })
        })
        .await
        .unwrap();
    assert_eq!(plans.len(), 4, "{plans:#?}");
    for (sql, plan) in &plans {
        assert!(
            plan.contains("USING INDEX deliveries_by_worker (locked_by=?)")
                || plan.contains("USING INDEX outgoing_emails_by_worker (locked_by=?)"),
            "{sql}\nis planned as: {plan}"
        );
    }
}
