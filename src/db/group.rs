//! Group commit: small writes that arrive together (sign-ups at a busy moment) run in
//! one transaction, and each caller is answered when that transaction commits.
//!
//! SQLite has one writer; a transaction per sign-up makes every sign-up wait for the
//! lock, a `BEGIN`, a `COMMIT` and the WAL append of each one before it. One writer
//! thread takes whatever has queued up while its last group was committing (up to
//! [`MOST_IN_A_GROUP`]) and runs it as one transaction, so the fixed cost is paid once
//! a group and the wait is at most about one group's work. A piece of work that fails
//! does not fail the others: the group is rolled back and each of its pieces runs again
//! in a transaction of its own, answering with its own result.

use std::sync::mpsc;

use tokio::sync::oneshot;

use super::{Conn, Db};

/// The most pieces of work one transaction takes (each is a handful of statements).
const MOST_IN_A_GROUP: usize = 256;

/// One piece of work in a group, with the way back to whoever asked for it.
trait Grouped: Send {
    /// Runs in the group's transaction; runs again, alone, if the group fails.
    fn run(&mut self, conn: &mut Conn) -> anyhow::Result<()>;
    /// Hands what the last run gave (or why it failed) back to the caller.
    fn answer(self: Box<Self>, outcome: anyhow::Result<()>);
}

struct Piece<T, F> {
    work: F,
    value: Option<T>,
    reply: oneshot::Sender<anyhow::Result<T>>,
}

impl<T, F> Grouped for Piece<T, F>
where
    T: Send,
    F: FnMut(&mut Conn) -> anyhow::Result<T> + Send,
{
    fn run(&mut self, conn: &mut Conn) -> anyhow::Result<()> {
        self.value = Some((self.work)(conn)?);
        Ok(())
    }

    fn answer(self: Box<Self>, outcome: anyhow::Result<()>) {
        let Piece { value, reply, .. } = *self;
        let answer = outcome
            .and_then(|()| value.ok_or_else(|| anyhow::anyhow!("a grouped write gave no value")));
        // The caller may have gone (the client hung up): the work is done all the same.
        let _ = reply.send(answer);
    }
}

/// The queue in front of the writer thread.
pub(super) struct GroupWriter {
    queue: mpsc::Sender<Box<dyn Grouped>>,
}

impl GroupWriter {
    /// Starts the writer thread for `db`; it ends when the last handle is dropped.
    pub(super) fn start(db: Db) -> std::io::Result<GroupWriter> {
        let (queue, arrivals) = mpsc::channel::<Box<dyn Grouped>>();
        std::thread::Builder::new()
            .name("group-commit".into())
            .spawn(move || {
                while let Ok(first) = arrivals.recv() {
                    let mut group = vec![first];
                    while group.len() < MOST_IN_A_GROUP {
                        match arrivals.try_recv() {
                            Ok(next) => group.push(next),
                            Err(_) => break,
                        }
                    }
                    // A panic in one group must not stop every later sign-up: its
                    // callers get an error (their answers are dropped), the next group
                    // goes on.
                    let committed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        commit_group(&db, group)
                    }));
                    if committed.is_err() {
                        tracing::error!("a group of database writes panicked");
                    }
                }
            })?;
        Ok(GroupWriter { queue })
    }

    /// Queues `work` for the next group; answers when its group commits.
    pub(super) async fn write<T, F>(&self, work: F) -> anyhow::Result<T>
    where
        T: Send + 'static,
        F: FnMut(&mut Conn) -> anyhow::Result<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let piece = Piece {
            work,
            value: None,
            reply,
        };
        self.queue
            .send(Box::new(piece))
            .map_err(|_| anyhow::anyhow!("the database writer has stopped"))?;
        answer
            .await
            .map_err(|_| anyhow::anyhow!("the database writer stopped before answering"))?
    }
}

/// Runs `group` in one exclusive transaction; if that fails, each piece alone.
fn commit_group(db: &Db, mut group: Vec<Box<dyn Grouped>>) {
    let together = db.write_blocking(|conn| {
        super::exclusive(conn, |conn| {
            group.iter_mut().try_for_each(|piece| piece.run(conn))
        })
    });
    match together {
        Ok(()) => group.into_iter().for_each(|piece| piece.answer(Ok(()))),
        Err(_) if group.len() > 1 => {
            for mut piece in group {
                let alone =
                    db.write_blocking(|conn| super::exclusive(conn, |conn| piece.run(conn)));
                piece.answer(alone);
            }
        }
        Err(e) => {
            if let Some(piece) = group.pop() {
                piece.answer(Err(e));
            }
        }
    }
}
