//! Storage of the example resource API's records: [`ResourceStore`], its
//! records, their row mappers, and its SQL ([`impl_resource_store!`],
//! expanded by both backends).

use async_trait::async_trait;

use super::StoreError;
use super::sql::SqlRow;

/// A case of the example resource API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseRecord {
    pub id: String,
    pub organization_id: String,
    pub title: String,
    pub status: String,
    pub created_at: i64,
}

/// A customer of an organization, in the example resource API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerRecord {
    pub id: String,
    pub organization_id: String,
    pub name: String,
    pub email: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceRecord {
    pub id: String,
    pub organization_id: String,
    pub client_id: String,
    pub amount_cents: i64,
    pub currency: String,
    pub created_at: i64,
}

/// A page of a list: rows after `after` (an id), in id order.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest<'a> {
    pub after: Option<&'a str>,
    pub limit: i64,
}

/// The example resource API's records: cases, customers, invoices.
#[async_trait]
pub trait ResourceStore: Send + Sync {
    /// Cases of the organization, in id order (UUID v7: creation order).
    async fn list_cases(
        &self,
        organization_id: &str,
        page: PageRequest<'_>,
    ) -> Result<Vec<CaseRecord>, StoreError>;
    /// The case, only if it belongs to the organization.
    async fn find_case(&self, organization_id: &str, id: &str) -> Result<Option<CaseRecord>, StoreError>;
    async fn insert_case(&self, case: &CaseRecord) -> Result<(), StoreError>;
    async fn list_customers(
        &self,
        organization_id: &str,
        page: PageRequest<'_>,
    ) -> Result<Vec<CustomerRecord>, StoreError>;
    /// The customer, only if it belongs to the organization.
    async fn find_customer(
        &self,
        organization_id: &str,
        id: &str,
    ) -> Result<Option<CustomerRecord>, StoreError>;
    async fn insert_customer(&self, customer: &CustomerRecord) -> Result<(), StoreError>;
    async fn insert_invoice(&self, invoice: &InvoiceRecord) -> Result<(), StoreError>;
}

pub(super) fn case<R: SqlRow>(row: &R) -> Result<CaseRecord, StoreError> {
    Ok(CaseRecord {
        id: row.read("id")?,
        organization_id: row.read("organization_id")?,
        title: row.read("title")?,
        status: row.read("status")?,
        created_at: row.read("created_at")?,
    })
}

pub(super) fn customer<R: SqlRow>(row: &R) -> Result<CustomerRecord, StoreError> {
    Ok(CustomerRecord {
        id: row.read("id")?,
        organization_id: row.read("organization_id")?,
        name: row.read("name")?,
        email: row.read("email")?,
        created_at: row.read("created_at")?,
    })
}

/// Implements [`ResourceStore`] for `$store` (a struct with a `pool: sqlx::Pool<$db>`).
macro_rules! impl_resource_store {
    ($store:ty, $db:ty) => {
        const _: () = {
            use async_trait::async_trait;
            use $crate::store::resources::{case, customer};
            use $crate::store::sql::all;
            use $crate::store::{CaseRecord, CustomerRecord, InvoiceRecord, PageRequest, ResourceStore, StoreError, map_sqlx};

            #[async_trait]
            impl ResourceStore for $store {
                async fn list_cases(&self, organization_id: &str, page: PageRequest<'_>) -> Result<Vec<CaseRecord>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT id, organization_id, title, status, created_at FROM cases \
                         WHERE organization_id = $1 AND id > $2 ORDER BY id LIMIT $3",
                    )
                    .bind(organization_id)
                    .bind(page.after.unwrap_or(""))
                    .bind(page.limit)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    all(rows, case)
                }

                async fn find_case(&self, organization_id: &str, id: &str) -> Result<Option<CaseRecord>, StoreError> {
                    let row = sqlx::query(
                        "SELECT id, organization_id, title, status, created_at FROM cases \
                         WHERE organization_id = $1 AND id = $2",
                    )
                    .bind(organization_id)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    row.as_ref().map(case).transpose()
                }

                async fn insert_case(&self, c: &CaseRecord) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO cases (id, organization_id, title, status, created_at) VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(&c.id)
                    .bind(&c.organization_id)
                    .bind(&c.title)
                    .bind(&c.status)
                    .bind(c.created_at)
                    .execute(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    Ok(())
                }

                async fn list_customers(
                    &self,
                    organization_id: &str,
                    page: PageRequest<'_>,
                ) -> Result<Vec<CustomerRecord>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT id, organization_id, name, email, created_at FROM customer_clients \
                         WHERE organization_id = $1 AND id > $2 ORDER BY id LIMIT $3",
                    )
                    .bind(organization_id)
                    .bind(page.after.unwrap_or(""))
                    .bind(page.limit)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    all(rows, customer)
                }

                async fn find_customer(&self, organization_id: &str, id: &str) -> Result<Option<CustomerRecord>, StoreError> {
                    let row = sqlx::query(
                        "SELECT id, organization_id, name, email, created_at FROM customer_clients \
                         WHERE organization_id = $1 AND id = $2",
                    )
                    .bind(organization_id)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    row.as_ref().map(customer).transpose()
                }

                async fn insert_customer(&self, c: &CustomerRecord) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO customer_clients (id, organization_id, name, email, created_at) \
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(&c.id)
                    .bind(&c.organization_id)
                    .bind(&c.name)
                    .bind(&c.email)
                    .bind(c.created_at)
                    .execute(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    Ok(())
                }

                async fn insert_invoice(&self, i: &InvoiceRecord) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO invoices (id, organization_id, client_id, amount_cents, currency, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(&i.id)
                    .bind(&i.organization_id)
                    .bind(&i.client_id)
                    .bind(i.amount_cents)
                    .bind(&i.currency)
                    .bind(i.created_at)
                    .execute(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                    Ok(())
                }
            }
        };
    };
}

pub(crate) use impl_resource_store;
