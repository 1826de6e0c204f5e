//! What [`crate::Db::pool`] hands out: sqlx's pool, or (SQLite with one connection, the default)
//! one shared connection. Both are sqlx executors (`.fetch_one(db.pool())`) and hand out a
//! connection for several statements or a transaction ([`DbPool::acquire`]).
//!
//! Why not sqlx's pool of one: sqlx pings every connection it takes back
//! (`PoolConnection::return_to_pool`, unconditionally, from a spawned task), and on SQLite a ping
//! is a round trip to the connection's worker thread, so every statement cost two thread round
//! trips instead of one (measured: ~12 % of the card sign-in's server CPU). An embedded
//! database's connection cannot drop; a transaction left open by a dropped `Transaction` is
//! rolled back by sqlx before the connection's next command, as in the pool.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::stream::{BoxStream, StreamExt};
use sqlx::any::{AnyConnectOptions, AnyQueryResult, AnyRow, AnyStatement, AnyTypeInfo};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Connection, Describe, Either, Execute, Executor, SqlStr};
use tokio::sync::{Mutex, OwnedMappedMutexGuard, OwnedMutexGuard};

use crate::db::{Backend, open_connection};

/// The connections of a [`crate::Db`].
#[derive(Debug)]
pub enum DbPool {
    /// sqlx's pool (PostgreSQL; SQLite configured with more than one connection).
    Pooled(AnyPool),
    /// One SQLite connection shared by turns.
    Single(Single),
}

/// One connection, opened at first use, taken by turns (first come, first served).
pub struct Single {
    slot: Arc<Mutex<Option<AnyConnection>>>,
    options: Arc<AnyConnectOptions>,
    acquire_timeout: Duration,
    closed: AtomicBool,
}

impl fmt::Debug for Single {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Single").field("closed", &self.closed).finish_non_exhaustive()
    }
}

/// A connection taken from a [`DbPool`]; given back when dropped.
pub struct DbConn(Taken);

enum Taken {
    Pooled(PoolConnection<Any>),
    Single(OwnedMappedMutexGuard<Option<AnyConnection>, AnyConnection>),
}

impl fmt::Debug for DbConn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DbConn")
    }
}

impl Deref for DbConn {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        match &self.0 {
            Taken::Pooled(c) => c,
            Taken::Single(c) => c,
        }
    }
}

impl DerefMut for DbConn {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match &mut self.0 {
            Taken::Pooled(c) => c,
            Taken::Single(c) => c,
        }
    }
}

impl Single {
    /// A shared SQLite connection opened with `options` at first use.
    pub(crate) fn new(options: Arc<AnyConnectOptions>, acquire_timeout: Duration) -> Self {
        Self { slot: Arc::new(Mutex::new(None)), options, acquire_timeout, closed: AtomicBool::new(false) }
    }

    /// Waits for the connection (at most the acquire timeout, as sqlx's pool), opening it if
    /// needed.
    async fn take(&self) -> Result<OwnedMappedMutexGuard<Option<AnyConnection>, AnyConnection>, sqlx::Error> {
        if self.closed.load(Ordering::Acquire) {
            return Err(sqlx::Error::PoolClosed);
        }
        let mut slot = tokio::time::timeout(self.acquire_timeout, self.slot.clone().lock_owned())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?;
        if slot.is_none() {
            *slot = Some(open_connection(&self.options, Backend::Sqlite).await?);
        }
        OwnedMutexGuard::try_map(slot, Option::as_mut).map_err(|_| sqlx::Error::PoolClosed)
    }

    /// Runs `f` on the connection when its turn comes; after a crash of the connection's thread,
    /// a new connection opens at the next use.
    async fn run<T>(
        &self,
        f: impl AsyncFnOnce(&mut AnyConnection) -> Result<T, sqlx::Error>,
    ) -> Result<T, sqlx::Error> {
        let result = match self.take().await {
            Ok(mut conn) => f(&mut conn).await,
            Err(e) => Err(e),
        };
        if matches!(result, Err(sqlx::Error::WorkerCrashed)) {
            self.forget().await;
        }
        result
    }

    /// Drops a connection whose thread crashed.
    async fn forget(&self) {
        tracing::warn!("the SQLite connection's thread stopped; a new connection opens at the next use");
        *self.slot.lock().await = None;
    }

    async fn close(&self) {
        self.closed.store(true, Ordering::Release);
        if let Some(conn) = self.slot.lock().await.take() {
            let _ = conn.close().await;
        }
    }
}

impl DbPool {
    /// A connection for several statements or a transaction (`conn.begin()`), given back when
    /// dropped. Holding it while running a statement on the pool itself waits for ever on a
    /// one-connection pool (the acquire timeout ends it).
    pub async fn acquire(&self) -> Result<DbConn, sqlx::Error> {
        match self {
            Self::Pooled(p) => Ok(DbConn(Taken::Pooled(p.acquire().await?))),
            Self::Single(s) => Ok(DbConn(Taken::Single(s.take().await?))),
        }
    }

    /// Whether [`DbPool::close`] was called.
    pub fn is_closed(&self) -> bool {
        match self {
            Self::Pooled(p) => p.is_closed(),
            Self::Single(s) => s.closed.load(Ordering::Acquire),
        }
    }

    /// Closes the connections (waits for taken ones to come back).
    pub async fn close(&self) {
        match self {
            Self::Pooled(p) => p.close().await,
            Self::Single(s) => s.close().await,
        }
    }
}

impl<'p> Executor<'p> for &'p DbPool {
    type Database = Any;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<AnyQueryResult, AnyRow>, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Any>,
    {
        match self {
            DbPool::Pooled(p) => p.fetch_many(query),
            // The results are collected while the connection is held, then handed out.
            DbPool::Single(s) => futures_util::stream::once(async move {
                let items = match s.take().await {
                    Ok(mut conn) => (&mut *conn).fetch_many(query).collect::<Vec<_>>().await,
                    Err(e) => vec![Err(e)],
                };
                if items.iter().any(|i| matches!(i, Err(sqlx::Error::WorkerCrashed))) {
                    s.forget().await;
                }
                futures_util::stream::iter(items)
            })
            .flatten()
            .boxed(),
        }
    }

    fn fetch_optional<'e, 'q: 'e, E>(self, query: E) -> BoxFuture<'e, Result<Option<AnyRow>, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Any>,
    {
        match self {
            DbPool::Pooled(p) => p.fetch_optional(query),
            DbPool::Single(s) => Box::pin(s.run(async move |conn| conn.fetch_optional(query).await)),
        }
    }

    fn prepare_with<'e>(
        self,
        sql: SqlStr,
        parameters: &'e [AnyTypeInfo],
    ) -> BoxFuture<'e, Result<AnyStatement, sqlx::Error>>
    where
        'p: 'e,
    {
        match self {
            DbPool::Pooled(p) => p.prepare_with(sql, parameters),
            DbPool::Single(s) => Box::pin(s.run(async move |conn| conn.prepare_with(sql, parameters).await)),
        }
    }

    fn describe<'e>(self, sql: SqlStr) -> BoxFuture<'e, Result<Describe<Any>, sqlx::Error>>
    where
        'p: 'e,
    {
        match self {
            DbPool::Pooled(p) => p.describe(sql),
            DbPool::Single(s) => Box::pin(s.run(async move |conn| conn.describe(sql).await)),
        }
    }
}

impl DbConn {
    /// Starts a transaction on this connection (rolled back if dropped uncommitted).
    pub async fn begin(&mut self) -> Result<sqlx::Transaction<'_, Any>, sqlx::Error> {
        Connection::begin(&mut **self).await
    }
}
