//! Single requests and paged reads: `WhoAmI`, one resource as JSON, any
//! single write, and collection pages that follow `@odata.nextLink`.

use super::*;

impl DataverseClient {
    /// `WhoAmI`: proves the token works against the org's Web API.
    pub async fn whoami(&self) -> DvResult<WhoAmI> {
        let body = self.get_json("WhoAmI").await?;
        let id = |key: &str| {
            body.get(key)
                .and_then(Value::as_str)
                .and_then(|s| Uuid::parse_str(s).ok())
                .ok_or_else(|| {
                    DvClientError::Transport(format!(
                        "the org's WhoAmI answer has no {key}; is {} a Dataverse org?",
                        self.credentials.org_url
                    ))
                })
        };
        Ok(WhoAmI {
            user_id: id("UserId")?,
            business_unit_id: id("BusinessUnitId")?,
            organization_id: id("OrganizationId")?,
        })
    }

    /// GET of one resource below the Web API root (or a full URL on the
    /// org), parsed as JSON.
    pub async fn get_json(&self, path_or_url: &str) -> DvResult<Value> {
        let spec = self.spec(Method::GET, path_or_url, None, &[])?;
        let reply = self.run(&spec).await?;
        parse_json(&spec, &reply)
    }

    /// Any single request with an optional JSON body and `Prefer` values
    /// (PATCH upserts, `CloseIncident`, `$ref` associations, deletes).
    pub async fn send_json(
        &self,
        method: Method,
        path_or_url: &str,
        body: Option<&Value>,
        prefer: &[&str],
    ) -> DvResult<Reply> {
        let spec = self.spec(method, path_or_url, body, prefer)?;
        let reply = self.run(&spec).await?;
        let json = if reply.body.iter().all(u8::is_ascii_whitespace) {
            None
        } else {
            Some(parse_json(&spec, &reply)?)
        };
        Ok(Reply {
            status: reply.status.as_u16(),
            entity_id: header(&reply.headers, "odata-entityid"),
            body: json,
        })
    }

    /// One page of a collection: a path below the Web API root
    /// (`accounts?$select=name`) or an `@odata.nextLink`. Dataverse wants
    /// the same `Prefer: odata.maxpagesize` on every page of a read, so
    /// `page_size` is given each time.
    pub async fn get_page(&self, path_or_url: &str, page_size: Option<usize>) -> DvResult<Page> {
        let prefer = page_size.map(|n| format!("odata.maxpagesize={}", n.clamp(1, MAX_PAGE_SIZE)));
        let prefer: Vec<&str> = prefer.iter().map(String::as_str).collect();
        let spec = self.spec(Method::GET, path_or_url, None, &prefer)?;
        let reply = self.run(&spec).await?;
        let body = parse_json(&spec, &reply)?;
        let rows = match body.get("value") {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| v.as_object().cloned())
                .collect(),
            _ => {
                return Err(DvClientError::Transport(format!(
                    "{} did not answer with a collection (no \"value\" array)",
                    spec.what
                )))
            }
        };
        Ok(Page {
            rows,
            next_link: body
                .get("@odata.nextLink")
                .and_then(Value::as_str)
                .map(str::to_string),
        })
    }

    /// Every row of a collection read, following `@odata.nextLink` with
    /// `Prefer: odata.maxpagesize=page_size`. Rows are held in memory: use
    /// [`get_page`](Self::get_page) to stream a large table.
    pub async fn get_all(&self, path: &str, page_size: usize) -> DvResult<Vec<Map<String, Value>>> {
        let mut rows = Vec::new();
        let mut next = Some(path.to_string());
        let mut seen = std::collections::HashSet::new();
        while let Some(link) = next.take() {
            if !seen.insert(link.clone()) {
                return Err(DvClientError::Transport(format!(
                    "the org sent the same next-page link twice while reading {}; the read was stopped so it cannot loop",
                    describe(path)
                )));
            }
            let page = self.get_page(&link, Some(page_size)).await?;
            rows.extend(page.rows);
            next = page.next_link;
        }
        Ok(rows)
    }
}
