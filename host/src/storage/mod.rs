//! Object storage through `object_store`: local files by default, any
//! S3-compatible server (AWS, R2, MinIO) by URL.
//!
//! Every tenant owns one prefix (`tenants/{tenant}/`). What is stored
//! there is the business of the layers above: tenant files (`files.rs`),
//! module blobs (`capabilities/blob.rs`), registry packages.

use std::sync::Arc;

use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::config::Config;

/// Storage failures.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("unsupported storage URL {0:?}: use file:///path or s3://bucket[/prefix]")]
    UnsupportedUrl(String),
    #[error("cannot create the storage directory {path}: {source}")]
    Dir { path: String, source: std::io::Error },
    #[error("object store error: {0}")]
    Store(#[from] object_store::Error),
}

/// The host's object store, rooted at the configured URL.
#[derive(Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    description: String,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.description)
    }
}

/// Object written at start-up and read by `/ready`: proves the store is the
/// one the host wrote to, not just that something answers.
const SENTINEL: &str = "_plaza/ready";

impl Storage {
    /// Opens the store named by the configuration.
    pub fn from_config(config: &Config) -> Result<Self, StorageError> {
        Self::open(&config.effective_storage_url(), &config.s3_endpoint)
    }

    /// Opens `file:///path` or `s3://bucket[/prefix]` (with an optional S3 endpoint).
    pub fn open(url: &str, s3_endpoint: &str) -> Result<Self, StorageError> {
        if let Some(path) = url.strip_prefix("file://") {
            std::fs::create_dir_all(path).map_err(|source| StorageError::Dir { path: path.to_owned(), source })?;
            let local = LocalFileSystem::new_with_prefix(path)?.with_automatic_cleanup(true);
            return Ok(Self { store: Arc::new(local), description: format!("local files at {path}") });
        }
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(StorageError::UnsupportedUrl(url.to_owned()));
            }
            // Credentials and region come from AWS_* variables.
            let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
            if !s3_endpoint.is_empty() {
                builder = builder.with_endpoint(s3_endpoint).with_allow_http(s3_endpoint.starts_with("http://"));
            }
            if std::env::var_os("AWS_REGION").is_none() && std::env::var_os("AWS_DEFAULT_REGION").is_none() {
                // S3-compatible servers ignore the region but it must be set.
                builder = builder.with_region("us-east-1");
            }
            let s3: Arc<dyn ObjectStore> = Arc::new(builder.build()?);
            let store: Arc<dyn ObjectStore> = match prefix.trim_matches('/') {
                "" => s3,
                p => Arc::new(PrefixStore::new(s3, p)),
            };
            return Ok(Self { store, description: format!("s3 bucket {bucket} prefix {prefix:?}") });
        }
        Err(StorageError::UnsupportedUrl(url.to_owned()))
    }

    /// The underlying store (already rooted at the configured prefix).
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// Writes the readiness sentinel; called once at start-up.
    pub async fn init(&self) -> Result<(), StorageError> {
        self.store.put(&Path::from(SENTINEL), PutPayload::from_static(b"plaza\n")).await?;
        Ok(())
    }

    /// Reads the readiness sentinel, for `/ready`.
    pub async fn ping(&self) -> Result<(), StorageError> {
        self.store.head(&Path::from(SENTINEL)).await?;
        Ok(())
    }

    /// Deletes every object under `prefix` (a tenant's or a module's).
    pub async fn delete_prefix(&self, prefix: &str) -> Result<usize, StorageError> {
        let prefix = Path::from(prefix);
        let locations = self.store.list(Some(&prefix)).map_ok(|meta| meta.location).boxed();
        let deleted: Vec<Path> = self.store.delete_stream(locations).try_collect().await?;
        Ok(deleted.len())
    }
}
