//! The state one host process shares between requests: built once at
//! start-up (pools, stores, keys, metrics), never per request.

use std::sync::Arc;

use crate::auth::Identity;
use crate::auth::operator::OperatorKey;
use crate::config::Config;
use crate::db::{Db, DbError};
use crate::metrics::Metrics;
use crate::modules::Modules;
use crate::storage::{Storage, StorageError};

/// Why the host could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Keys(#[from] crate::auth::keys::KeyError),
    #[error(transparent)]
    Modules(#[from] crate::modules::ModuleError),
}

/// Everything a request handler may need.
pub struct App {
    pub config: Config,
    pub db: Db,
    pub storage: Storage,
    pub metrics: Arc<Metrics>,
    pub operator: OperatorKey,
    pub identity: Identity,
    pub modules: Arc<Modules>,
}

impl App {
    /// Connects the database (applying migrations), opens the object store
    /// and loads the operator key.
    pub async fn start(config: Config) -> Result<Arc<App>, StartError> {
        let db = Db::connect(&config.effective_database_url(), config.db_max_connections).await?;
        db.migrate().await?;
        let storage = Storage::from_config(&config)?;
        storage.init().await?;
        let operator = OperatorKey::load_or_create(&db, &config.operator_token).await?;
        let metrics = Arc::new(Metrics::new(config.db_max_connections));
        let identity = Identity::from_config(&config)?;
        let modules = Modules::start(&config, &db, &storage, &metrics).await?;
        Ok(Arc::new(App { config, db, storage, metrics, operator, identity, modules }))
    }
}
