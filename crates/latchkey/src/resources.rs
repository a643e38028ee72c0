//! The example resource API's rules (SPEC 11): cases, the organization's
//! clients (its customers) and invoices. Every read and write is confined
//! to one organization — the caller's — so an id from another tenant is
//! simply not found. Lists are paginated with an opaque cursor.

use crate::store::{CaseRecord, CustomerRecord, InvoiceRecord, PageRequest, Store, StoreError};

/// The statuses a case can have; new cases are `open`.
pub const CASE_STATUSES: [&str; 4] = ["open", "pending", "referred", "closed"];
pub const DEFAULT_PAGE: i64 = 20;
pub const MAX_PAGE: i64 = 100;

/// The longest case title.
pub const MAX_TITLE_CHARS: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum ResourceError {
    #[error("{message}")]
    Invalid { field: &'static str, message: String },
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(field: &'static str, message: impl Into<String>) -> ResourceError {
    ResourceError::Invalid {
        field,
        message: message.into(),
    }
}

/// One page of a list and the cursor of the next, if there is one.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Reads `limit` (1–100, default 20); the cursor is the last id seen.
pub fn page_request<'a>(
    cursor: Option<&'a str>,
    limit: Option<&str>,
) -> Result<PageRequest<'a>, ResourceError> {
    let limit = match limit {
        None => DEFAULT_PAGE,
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| invalid("limit", format!("limit must be a number from 1 to {MAX_PAGE}")))?,
    };
    Ok(PageRequest {
        after: cursor.filter(|c| !c.is_empty()),
        limit,
    })
}

/// Asks for one row more than the page to learn whether another follows.
fn paginate<T>(mut rows: Vec<T>, limit: i64, id: impl Fn(&T) -> &str) -> Page<T> {
    let limit = usize::try_from(limit).unwrap_or(0);
    let next_cursor = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(|row| id(row).to_owned())
    } else {
        None
    };
    Page {
        items: rows,
        next_cursor,
    }
}

fn one_more(page: PageRequest<'_>) -> PageRequest<'_> {
    PageRequest {
        limit: page.limit + 1,
        ..page
    }
}

pub async fn list_cases(
    store: &dyn Store,
    organization_id: &str,
    page: PageRequest<'_>,
) -> Result<Page<CaseRecord>, ResourceError> {
    let rows = store.list_cases(organization_id, one_more(page)).await?;
    Ok(paginate(rows, page.limit, |c| &c.id))
}

pub async fn find_case(
    store: &dyn Store,
    organization_id: &str,
    id: &str,
) -> Result<CaseRecord, ResourceError> {
    store
        .find_case(organization_id, id)
        .await?
        .ok_or_else(|| ResourceError::NotFound(format!("no case has the id `{id}`")))
}

pub async fn create_case(
    store: &dyn Store,
    organization_id: &str,
    title: &str,
    status: Option<&str>,
    now: i64,
) -> Result<CaseRecord, ResourceError> {
    // Measured as sent: an over-long title is refused, not trimmed to fit.
    if title.chars().count() > MAX_TITLE_CHARS || title.trim().is_empty() {
        return Err(invalid(
            "title",
            format!("title must be 1 to {MAX_TITLE_CHARS} characters"),
        ));
    }
    let title = title.trim();
    let status = status.unwrap_or("open");
    if !CASE_STATUSES.contains(&status) {
        return Err(invalid(
            "status",
            format!("status must be one of {}", CASE_STATUSES.join(", ")),
        ));
    }
    let case = CaseRecord {
        id: uuid::Uuid::now_v7().to_string(),
        organization_id: organization_id.to_owned(),
        title: title.to_owned(),
        status: status.to_owned(),
        created_at: now,
    };
    store.insert_case(&case).await?;
    Ok(case)
}

pub async fn list_customers(
    store: &dyn Store,
    organization_id: &str,
    page: PageRequest<'_>,
) -> Result<Page<CustomerRecord>, ResourceError> {
    let rows = store.list_customers(organization_id, one_more(page)).await?;
    Ok(paginate(rows, page.limit, |c| &c.id))
}

pub async fn find_customer(
    store: &dyn Store,
    organization_id: &str,
    id: &str,
) -> Result<CustomerRecord, ResourceError> {
    store
        .find_customer(organization_id, id)
        .await?
        .ok_or_else(|| ResourceError::NotFound(format!("no client has the id `{id}`")))
}

pub async fn create_customer(
    store: &dyn Store,
    organization_id: &str,
    name: &str,
    email: Option<&str>,
    now: i64,
) -> Result<CustomerRecord, ResourceError> {
    let customer = CustomerRecord {
        id: uuid::Uuid::now_v7().to_string(),
        organization_id: organization_id.to_owned(),
        name: name.to_owned(),
        email: email.map(str::to_owned),
        created_at: now,
    };
    store.insert_customer(&customer).await?;
    Ok(customer)
}

/// An invoice for one of the organization's clients.
pub async fn create_invoice(
    store: &dyn Store,
    organization_id: &str,
    client_id: &str,
    amount_cents: i64,
    currency: &str,
    now: i64,
) -> Result<InvoiceRecord, ResourceError> {
    if amount_cents <= 0 {
        return Err(invalid(
            "amount_cents",
            "amount_cents must be a positive whole number of cents",
        ));
    }
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(invalid(
            "currency",
            "currency must be a three-letter ISO 4217 code such as USD",
        ));
    }
    find_customer(store, organization_id, client_id).await?;
    let invoice = InvoiceRecord {
        id: uuid::Uuid::now_v7().to_string(),
        organization_id: organization_id.to_owned(),
        client_id: client_id.to_owned(),
        amount_cents,
        currency: currency.to_owned(),
        created_at: now,
    };
    store.insert_invoice(&invoice).await?;
    Ok(invoice)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_report_a_cursor_only_when_more_rows_follow() {
        let page = paginate(vec!["a", "b", "c"], 2, |s| s);
        assert_eq!(
            (page.items, page.next_cursor.as_deref()),
            (vec!["a", "b"], Some("b"))
        );
        let page = paginate(vec!["a", "b"], 2, |s| s);
        assert_eq!(page.next_cursor, None);
    }

    #[test]
    fn limits_are_bounded() {
        assert_eq!(page_request(None, None).unwrap().limit, DEFAULT_PAGE);
        assert!(page_request(None, Some("0")).is_err());
        assert!(page_request(None, Some("101")).is_err());
        assert!(page_request(None, Some("x")).is_err());
    }
}
