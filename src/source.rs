//! Where the reconciler gets jobs from. The reconciler only sees [`JobSource`];
//! how jobs are fetched (one call per watch today, one shared poll per project
//! and credential later, a rate limiter per access key) is this module's business.

use futures::future::BoxFuture;

use crate::huawei::{self, Credentials, Endpoint, JobList, Transport};

/// One watch's question: the jobs of this gateway, asked with these credentials.
#[derive(Debug, Clone, Copy)]
pub struct JobQuery<'a> {
    /// Where the API is.
    pub endpoint: &'a Endpoint,
    /// Who asks.
    pub credentials: &'a Credentials,
    /// The project.
    pub project_id: &'a str,
    /// The gateway (sent as `resource_id`).
    pub gateway_id: &'a str,
}

/// A source of cloud jobs for the reconciler.
pub trait JobSource: Send + Sync + 'static {
    /// Every job of the query's gateway, all pages.
    fn jobs<'a>(&'a self, query: JobQuery<'a>) -> BoxFuture<'a, Result<JobList, huawei::Error>>;
}

/// Asks the cloud directly, once per query, over one shared connection pool.
#[derive(Debug, Clone)]
pub struct DirectSource {
    transport: Transport,
}

impl DirectSource {
    /// A source over `transport`.
    pub fn new(transport: Transport) -> Self {
        Self { transport }
    }
}

impl JobSource for DirectSource {
    fn jobs<'a>(&'a self, query: JobQuery<'a>) -> BoxFuture<'a, Result<JobList, huawei::Error>> {
        Box::pin(async move {
            self.transport
                .client(query.endpoint.clone(), query.credentials.clone())
                .list_jobs(query.project_id, Some(query.gateway_id), None)
                .await
        })
    }
}
