//! Where tables live: local paths and object-store URLs (`file://`, `s3://`, `abfss://`, `gs://`).
//!
//! Credentials and endpoints come from the environment the way each cloud's SDK reads them (`AWS_*`, `AZURE_*`,
//! `GOOGLE_*`), so the same URL works on a laptop, in CI against a local S3-compatible server, and on Databricks.
//! The same object stores serve the query engine (Parquet, CSV) and the Delta log store.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Once};

use deltalake::logstore::{
    default_logstore, logstore_factories, object_store_factories, LogStore, LogStoreFactory,
    ObjectStoreFactory, ObjectStoreRef, StorageConfig,
};
use deltalake::{DeltaResult, DeltaTableError};
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as StorePath;
use object_store::ObjectStore;
use url::Url;

use crate::error::{CoreError, CoreResult};

const S3_SCHEMES: [&str; 2] = ["s3", "s3a"];
const AZURE_SCHEMES: [&str; 4] = ["az", "abfs", "abfss", "azure"];
const GCS_SCHEMES: [&str; 1] = ["gs"];

/// A table or file location, always held as an absolute URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    url: Url,
}

impl Location {
    /// Parse a local path (relative or absolute) or a URL with a supported scheme.
    pub fn parse(uri: &str) -> CoreResult<Self> {
        let uri = uri.trim();
        if uri.is_empty() {
            return Err(CoreError::Config("an empty path or URL was given".into()));
        }
        if let Some((scheme, _)) = uri.split_once("://") {
            let url =
                Url::parse(uri).map_err(|e| CoreError::Config(format!("'{uri}' is not a valid URL: {e}")))?;
            let supported = scheme == "file"
                || S3_SCHEMES.contains(&scheme)
                || AZURE_SCHEMES.contains(&scheme)
                || GCS_SCHEMES.contains(&scheme);
            if !supported {
                return Err(CoreError::Config(format!(
                    "unsupported URL scheme '{scheme}://' (use a local path, file://, s3://, abfss:// or gs://)"
                )));
            }
            return Ok(Location {
                url: strip_trailing_slash(url),
            });
        }
        let path = absolute(Path::new(uri))?;
        let url = Url::from_file_path(&path)
            .map_err(|_| CoreError::Config(format!("'{uri}' is not a usable local path")))?;
        Ok(Location { url })
    }

    /// The URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// True for local paths.
    pub fn is_local(&self) -> bool {
        self.url.scheme() == "file"
    }

    /// The local filesystem path, for local locations.
    pub fn local_path(&self) -> Option<PathBuf> {
        if self.is_local() {
            self.url.to_file_path().ok()
        } else {
            None
        }
    }

    /// A child location, e.g. `lake.join("person_records")`.
    pub fn join(&self, name: &str) -> Location {
        let mut url = self.url.clone();
        {
            let mut segments = url.path_segments_mut().expect("location URLs have a path");
            segments.pop_if_empty();
            for part in name.split('/').filter(|p| !p.is_empty()) {
                segments.push(part);
            }
        }
        Location { url }
    }

    /// The object store that holds this location, and the location's path inside it.
    pub fn object_store(&self) -> CoreResult<(Arc<dyn ObjectStore>, StorePath)> {
        let (store, path) = build_store(&self.url, &HashMap::new())
            .map_err(|e| CoreError::Config(format!("cannot open storage for {}: {e}", self.redacted())))?;
        Ok((store, path))
    }

    /// The URL as text, safe for logs (no query string or credentials).
    pub fn redacted(&self) -> String {
        let mut url = self.url.clone();
        let _ = url.set_password(None);
        let _ = url.set_username("");
        url.set_query(None);
        url.to_string()
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

fn strip_trailing_slash(mut url: Url) -> Url {
    let path = url.path().trim_end_matches('/').to_string();
    if !path.is_empty() {
        url.set_path(&path);
    }
    url
}

fn absolute(path: &Path) -> CoreResult<PathBuf> {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    };
    // Normalize `.` and `..` without touching the filesystem (the path may not exist yet).
    let mut out = PathBuf::new();
    for part in joined.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    Ok(out)
}

/// Build the object store for a URL, reading credentials and endpoints from the environment and `options`.
fn build_store(
    url: &Url,
    options: &HashMap<String, String>,
) -> Result<(Arc<dyn ObjectStore>, StorePath), object_store::Error> {
    let scheme = url.scheme();
    let path = StorePath::from_url_path(url.path())?;
    // Each cloud builder reads its own environment variables, then takes explicit options by key name.
    macro_rules! cloud_store {
        ($builder:expr) => {{
            let mut builder = $builder.with_url(url.as_str());
            for (key, value) in options {
                if let Ok(key) = key.to_ascii_lowercase().parse() {
                    builder = builder.with_config(key, value);
                }
            }
            Arc::new(builder.build()?) as Arc<dyn ObjectStore>
        }};
    }
    let store: Arc<dyn ObjectStore> = if scheme == "file" {
        Arc::new(LocalFileSystem::new())
    } else if S3_SCHEMES.contains(&scheme) {
        cloud_store!(AmazonS3Builder::from_env())
    } else if AZURE_SCHEMES.contains(&scheme) {
        cloud_store!(MicrosoftAzureBuilder::from_env())
    } else if GCS_SCHEMES.contains(&scheme) {
        cloud_store!(GoogleCloudStorageBuilder::from_env())
    } else {
        return Err(object_store::Error::Generic {
            store: "carelake",
            source: format!("unsupported scheme {scheme}").into(),
        });
    };
    Ok((store, path))
}

/// Teaches the deltalake crate our cloud schemes, using the same store builder as the query engine.
struct CloudStoreFactory;

impl ObjectStoreFactory for CloudStoreFactory {
    fn parse_url_opts(&self, url: &Url, config: &StorageConfig) -> DeltaResult<(ObjectStoreRef, StorePath)> {
        // The store must point at the bucket root; the table path is returned beside it.
        let (store, path) = build_store(url, &config.raw)
            .map_err(|e| DeltaTableError::Generic(format!("cannot open storage: {e}")))?;
        Ok((store, path))
    }
}

impl LogStoreFactory for CloudStoreFactory {
    fn with_options(
        &self,
        prefixed_store: ObjectStoreRef,
        root_store: ObjectStoreRef,
        location: &Url,
        options: &StorageConfig,
    ) -> DeltaResult<Arc<dyn LogStore>> {
        // Commits use put-if-absent, which S3 (and S3-compatible servers), ADLS and GCS all support.
        Ok(default_logstore(prefixed_store, root_store, location, options))
    }
}

/// Register the cloud schemes with deltalake once per process.
pub fn register_cloud_stores() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let factory = Arc::new(CloudStoreFactory);
        for scheme in S3_SCHEMES.iter().chain(&AZURE_SCHEMES).chain(&GCS_SCHEMES) {
            let url = Url::parse(&format!("{scheme}://")).expect("static scheme URL");
            object_store_factories().insert(url.clone(), factory.clone());
            logstore_factories().insert(url, factory.clone());
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_become_absolute_file_urls() {
        let loc = Location::parse("some/dir/../lake").unwrap();
        assert!(loc.is_local());
        assert!(loc.url().path().ends_with("/some/lake"));
    }

    #[test]
    fn join_adds_path_segments() {
        let loc = Location::parse("s3://bucket/lake/").unwrap();
        assert_eq!(
            loc.join("person_records").url().as_str(),
            "s3://bucket/lake/person_records"
        );
    }

    #[test]
    fn unknown_schemes_are_config_errors() {
        let err = Location::parse("ftp://host/x").unwrap_err();
        assert!(matches!(err, CoreError::Config(_)));
    }

    #[test]
    fn redaction_drops_credentials() {
        let loc = Location::parse("s3://user:secret@bucket/lake?sig=abc").unwrap();
        assert!(!loc.redacted().contains("secret"));
        assert!(!loc.redacted().contains("sig"));
    }
}
