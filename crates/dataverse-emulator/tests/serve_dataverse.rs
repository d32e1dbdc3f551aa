//! `ferry serve dataverse` through a plain HTTP client: auth, metadata,
//! records, bulk messages, `$batch`, Dataverse's validation and error
//! codes, service protection, injected faults and the state file — each
//! asserting status, body shape, error code and the resulting state.

use std::time::{Duration, Instant};

use dataverse_emulator::{DataverseConfig, DataverseEmulator, RunningDataverse};
use serde_json::{json, Value};

// ------------------------------------------------------------------ client

#[derive(Debug)]
struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    text: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
    fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

struct Org {
    emulator: RunningDataverse,
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
    token: String,
}

impl Org {
    fn start(config: DataverseConfig) -> Org {
        let emulator = DataverseEmulator::new(config)
            .spawn("127.0.0.1:0".parse().unwrap())
            .expect("spawn");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let mut org = Org {
            emulator,
            runtime,
            client,
            token: String::new(),
        };
        org.token = org.fetch_token("s3cret").expect("token");
        org
    }

    fn default() -> Org {
        Org::start(DataverseConfig::new("st"))
    }

    fn fetch_token(&self, secret: &str) -> Result<String, Box<Reply>> {
        let url = format!("{}/tenant-1/oauth2/v2.0/token", self.emulator.url());
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", "ferry-loader"),
            ("client_secret", secret),
            ("scope", &format!("{}/.default", self.emulator.url())),
        ];
        let reply = self.runtime.block_on(async {
            let r = self.client.post(&url).form(&form).send().await.unwrap();
            Reply {
                status: r.status().as_u16(),
                headers: r.headers().clone(),
                text: r.text().await.unwrap(),
            }
        });
        if reply.status == 200 {
            Ok(reply.json()["access_token"].as_str().unwrap().to_string())
        } else {
            Err(Box::new(reply))
        }
    }

    fn api(&self) -> String {
        format!("{}/api/data/v9.2/", self.emulator.url())
    }

    fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Reply {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.api())
        };
        self.runtime.block_on(async {
            let mut request = self
                .client
                .request(method.parse().unwrap(), &url)
                .header("Authorization", format!("Bearer {}", self.token))
                .header("Accept", "application/json");
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            if let Some(body) = body {
                if !headers
                    .iter()
                    .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
                {
                    request = request.header("Content-Type", "application/json");
                }
                request = request.body(body);
            }
            let r = request.send().await.unwrap();
            Reply {
                status: r.status().as_u16(),
                headers: r.headers().clone(),
                text: r.text().await.unwrap(),
            }
        })
    }

    fn get(&self, path: &str) -> Reply {
        self.send("GET", path, &[], None)
    }
    fn post(&self, path: &str, body: Value) -> Reply {
        self.send("POST", path, &[], Some(body.to_string()))
    }
    fn patch(&self, path: &str, body: Value) -> Reply {
        self.send("PATCH", path, &[], Some(body.to_string()))
    }

    /// Creates a record and returns its id (from `OData-EntityId`).
    fn create(&self, set: &str, body: Value) -> String {
        let reply = self.post(set, body);
        assert_eq!(reply.status, 204, "{}", reply.text);
        let entity = reply.header("OData-EntityId").expect("OData-EntityId");
        entity[entity.rfind('(').unwrap() + 1..entity.len() - 1].to_string()
    }

    fn count(&self, set: &str) -> usize {
        let reply = self.get(&format!("{set}?$count=true"));
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.json()["@odata.count"].as_u64().unwrap() as usize
    }

    fn account(&self, name: &str) -> String {
        self.create("accounts", json!({ "name": name }))
    }
}

fn assert_error(reply: &Reply, status: u16, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.text);
    assert_eq!(reply.code(), code, "{}", reply.text);
    assert!(
        reply.json()["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{}",
        reply.text
    );
}

// ------------------------------------------------------------------ auth

#[test]
fn requests_need_a_token_from_the_client_credentials_flow() {
    let mut config = DataverseConfig::new("st");
    config.client_secret = Some("s3cret".into());
    let org = Org::start(config);
    let refused = org.fetch_token("wrong").unwrap_err();
    assert_eq!(refused.status, 401);
    assert_eq!(refused.json()["error"], "invalid_client");

    let who = org.get("WhoAmI");
    assert_eq!(who.status, 200, "{}", who.text);
    assert!(who.json()["UserId"].as_str().is_some());
    assert!(who.json()["OrganizationId"].as_str().is_some());

    let anonymous = org.runtime.block_on(async {
        org.client
            .get(format!("{}WhoAmI", org.api()))
            .send()
            .await
            .unwrap()
    });
    assert_eq!(anonymous.status().as_u16(), 401);
    assert!(anonymous.headers().contains_key("www-authenticate"));
}

// ------------------------------------------------------------------ metadata

#[test]
fn metadata_describes_tables_columns_and_option_sets() {
    let org = Org::default();
    let account =
        org.get("EntityDefinitions(LogicalName='account')?$select=LogicalName&$expand=Attributes");
    assert_eq!(account.status, 200, "{}", account.text);
    let body = account.json();
    assert_eq!(body["EntitySetName"], "accounts");
    let name = body["Attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["LogicalName"] == "name")
        .expect("name attribute");
    assert_eq!(name["MaxLength"], 160);

    let priority = org.get("EntityDefinitions(LogicalName='incident')/Attributes(LogicalName='prioritycode')/Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$expand=OptionSet");
    assert_eq!(priority.status, 200, "{}", priority.text);
    let values: Vec<i64> = priority.json()["OptionSet"]["Options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["Value"].as_i64().unwrap())
        .collect();
    assert_eq!(values, vec![1, 2, 3]);

    let status = org.get("EntityDefinitions(LogicalName='incident')/Attributes(LogicalName='statuscode')/Microsoft.Dynamics.CRM.StatusAttributeMetadata?$expand=OptionSet");
    let resolved = status.json()["OptionSet"]["Options"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["Value"] == 5)
        .cloned()
        .unwrap();
    assert_eq!(resolved["State"], 1);

    assert_error(
        &org.get("EntityDefinitions(LogicalName='nosuchtable')"),
        404,
        "0x8006088a",
    );
}

#[test]
fn a_critical_priority_is_refused_until_its_option_value_is_inserted() {
    let org = Org::default();
    let customer = org.account("Critical Care Inc");
    let case = json!({
        "title": "Boiler down",
        "customerid_account@odata.bind": format!("/accounts({customer})"),
        "prioritycode": 100000000,
    });
    let refused = org.post("incidents", case.clone());
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert_eq!(org.count("incidents"), 0);

    let inserted = org.post(
        "InsertOptionValue",
        json!({
            "EntityLogicalName": "incident",
            "AttributeLogicalName": "prioritycode",
            "Value": 100000000,
            "Label": {"LocalizedLabels": [{"Label": "Critical", "LanguageCode": 1033}]},
        }),
    );
    assert_eq!(inserted.status, 200, "{}", inserted.text);
    assert_eq!(inserted.json()["NewOptionValue"], 100000000);
    assert_eq!(org.post("PublishAllXml", json!({})).status, 204);
    org.create("incidents", case);
    assert_eq!(org.count("incidents"), 1);
}

#[test]
fn a_new_column_and_alternate_key_can_be_created_and_used() {
    let org = Org::default();
    let created = org.post(
        "EntityDefinitions(LogicalName='account')/Attributes",
        json!({
            "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata",
            "SchemaName": "st_LegacyCode",
            "AttributeType": "String",
            "AttributeTypeName": {"Value": "StringType"},
            "MaxLength": 20,
            "RequiredLevel": {"Value": "None"},
            "DisplayName": {"LocalizedLabels": [{"Label": "Legacy code", "LanguageCode": 1033}]},
        }),
    );
    assert_eq!(created.status, 204, "{}", created.text);
    let key = org.post(
        "EntityDefinitions(LogicalName='account')/Keys",
        json!({
            "SchemaName": "st_legacycode_key",
            "KeyAttributes": ["st_legacycode"],
            "DisplayName": {"LocalizedLabels": [{"Label": "Legacy code", "LanguageCode": 1033}]},
        }),
    );
    assert_eq!(key.status, 204, "{}", key.text);

    // Upsert by the alternate key creates, then updates the same record.
    let upsert = org.patch("accounts(st_legacycode='A-1')", json!({"name": "First"}));
    assert_eq!(upsert.status, 204, "{}", upsert.text);
    let upsert = org.patch("accounts(st_legacycode='A-1')", json!({"name": "Renamed"}));
    assert_eq!(upsert.status, 204, "{}", upsert.text);
    assert_eq!(org.count("accounts"), 1);
    let row = org.get("accounts(st_legacycode='A-1')?$select=name");
    assert_eq!(row.json()["name"], "Renamed");
    assert_error(
        &org.post("accounts", json!({"name": "Dup", "st_legacycode": "A-1"})),
        412,
        "0x80060892",
    );
    let long = org.post(
        "accounts",
        json!({"name": "Long", "st_legacycode": "x".repeat(21)}),
    );
    assert_error(&long, 400, "0x80044331");
}

#[test]
fn metadata_pulled_from_a_real_org_is_accepted() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/reference/dataverse/account-metadata.retrievemetadatachanges.json");
    let config = DataverseConfig::new("st")
        .with_metadata_file(&path)
        .unwrap();
    let org = Org::start(config);
    let category = org.get("EntityDefinitions(LogicalName='account')/Attributes(LogicalName='accountcategorycode')/Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$expand=OptionSet");
    assert_eq!(category.status, 200, "{}", category.text);
    assert!(!category.json()["OptionSet"]["Options"]
        .as_array()
        .unwrap()
        .is_empty());
    org.create(
        "accounts",
        json!({"name": "From real metadata", "accountcategorycode": 1}),
    );
}

// ------------------------------------------------------------------ records

#[test]
fn records_are_created_read_updated_upserted_and_deleted() {
    let org = Org::default();
    let id = org.account("Contoso");
    let row = org.get(&format!("accounts({id})"));
    assert_eq!(row.status, 200, "{}", row.text);
    assert_eq!(row.json()["name"], "Contoso");
    assert!(row.json()["@odata.etag"].as_str().is_some());

    assert_eq!(
        org.patch(
            &format!("accounts({id})"),
            json!({"telephone1": "555-0100"})
        )
        .status,
        204
    );
    assert_eq!(
        org.get(&format!("accounts({id})")).json()["telephone1"],
        "555-0100"
    );

    // PATCH creates when missing (upsert), but not with If-Match: *.
    let fresh = "00000000-0000-0000-0000-00000000a001";
    let missing = org.send(
        "PATCH",
        &format!("accounts({fresh})"),
        &[("If-Match", "*")],
        Some(json!({"name": "x"}).to_string()),
    );
    assert_error(&missing, 404, "0x80040217");
    assert_eq!(
        org.patch(&format!("accounts({fresh})"), json!({"name": "Upserted"}))
            .status,
        204
    );
    let again = org.send(
        "PATCH",
        &format!("accounts({fresh})"),
        &[("If-None-Match", "*")],
        Some(json!({"name": "y"}).to_string()),
    );
    assert_eq!(again.status, 412, "{}", again.text);
    assert_eq!(
        org.get(&format!("accounts({fresh})")).json()["name"],
        "Upserted"
    );

    let representation = org.send(
        "POST",
        "accounts?$select=name",
        &[("Prefer", "return=representation")],
        Some(json!({"name": "Shown"}).to_string()),
    );
    assert_eq!(representation.status, 201, "{}", representation.text);
    assert_eq!(representation.json()["name"], "Shown");

    assert_eq!(
        org.send("DELETE", &format!("accounts({id})"), &[], None)
            .status,
        204
    );
    assert_error(&org.get(&format!("accounts({id})")), 404, "0x80040217");
}

#[test]
fn lookups_bind_by_guid_and_read_back_with_annotations() {
    let org = Org::default();
    let account = org.account("Parent Co");
    let contact = org.create(
        "contacts",
        json!({"lastname": "Ng", "parentcustomerid_account@odata.bind": format!("/accounts({account})")}),
    );
    let row = org.get(&format!("contacts({contact})")).json();
    assert_eq!(row["_parentcustomerid_value"], account.as_str());
    assert_eq!(
        row["_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"],
        "account"
    );
    assert_eq!(
        row["_parentcustomerid_value@OData.Community.Display.V1.FormattedValue"],
        "Parent Co"
    );

    let filtered = org.get(&format!(
        "contacts?$filter=_parentcustomerid_value eq {account}"
    ));
    assert_eq!(filtered.json()["value"].as_array().unwrap().len(), 1);
}

#[test]
fn a_bind_to_a_missing_parent_fails_and_writes_nothing() {
    let org = Org::default();
    let reply = org.post(
        "contacts",
        json!({"lastname": "Orphan", "parentcustomerid_account@odata.bind": "/accounts(00000000-0000-0000-0000-0000000000aa)"}),
    );
    assert_error(&reply, 404, "0x80040217");
    assert_eq!(org.count("contacts"), 0);
}

#[test]
fn collections_filter_select_order_and_page_every_record_exactly_once() {
    let org = Org::default();
    let targets: Vec<Value> = (0..1234)
        .map(|i| json!({"@odata.type": "Microsoft.Dynamics.CRM.account", "name": format!("Account {i:04}"), "address1_city": format!("City {}", i % 7)}))
        .collect();
    for chunk in targets.chunks(500) {
        let reply = org.post(
            "accounts/Microsoft.Dynamics.CRM.CreateMultiple",
            json!({"Targets": chunk}),
        );
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut url = "accounts?$select=name&$orderby=name desc".to_string();
    let mut pages = 0;
    loop {
        let reply = org.send("GET", &url, &[("Prefer", "odata.maxpagesize=100")], None);
        assert_eq!(reply.status, 200, "{}", reply.text);
        let body = reply.json();
        for row in body["value"].as_array().unwrap() {
            assert!(
                seen.insert(row["name"].as_str().unwrap().to_string()),
                "{row} twice"
            );
        }
        pages += 1;
        match body["@odata.nextLink"].as_str() {
            Some(next) => url = next.to_string(),
            None => break,
        }
    }
    assert_eq!(seen.len(), 1234);
    assert_eq!(pages, 13);

    let top = org.get("accounts?$select=name&$filter=address1_city eq 'city 3' and startswith(name,'Account 00')&$orderby=name&$top=2&$count=true").json();
    let names: Vec<&str> = top["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["Account 0003", "Account 0010"]);
    let inlist = org.get("accounts?$filter=Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=['Account 0001','Account 0002'])").json();
    assert_eq!(inlist["value"].as_array().unwrap().len(), 2);
}

// ------------------------------------------------------------------ bulk, batch, actions

#[test]
fn create_multiple_with_one_bad_target_writes_none_of_them() {
    let org = Org::default();
    let mut targets: Vec<Value> = (0..10)
        .map(
            |i| json!({"@odata.type": "Microsoft.Dynamics.CRM.account", "name": format!("Ok {i}")}),
        )
        .collect();
    targets[7] = json!({"@odata.type": "Microsoft.Dynamics.CRM.account", "name": "x".repeat(161)});
    let reply = org.post(
        "accounts/Microsoft.Dynamics.CRM.CreateMultiple",
        json!({"Targets": targets}),
    );
    assert_error(&reply, 400, "0x80044331");
    assert_eq!(org.count("accounts"), 0);

    targets[7] = json!({"@odata.type": "Microsoft.Dynamics.CRM.account", "name": "Fixed"});
    let reply = org.post(
        "accounts/Microsoft.Dynamics.CRM.CreateMultiple",
        json!({"Targets": targets}),
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    let ids = reply.json()["Ids"].as_array().unwrap().clone();
    assert_eq!(ids.len(), 10);

    let updates: Vec<Value> = ids
        .iter()
        .map(|id| json!({"@odata.type": "Microsoft.Dynamics.CRM.account", "accountid": id, "telephone1": "555"}))
        .collect();
    let reply = org.post(
        "accounts/Microsoft.Dynamics.CRM.UpdateMultiple",
        json!({"Targets": updates}),
    );
    assert_eq!(reply.status, 204, "{}", reply.text);
    let fresh = "00000000-0000-0000-0000-00000000b001";
    let upserts = json!({"Targets": [
        {"@odata.type": "Microsoft.Dynamics.CRM.account", "@odata.id": format!("accounts({})", ids[0].as_str().unwrap()), "name": "Upd"},
        {"@odata.type": "Microsoft.Dynamics.CRM.account", "@odata.id": format!("accounts({fresh})"), "name": "New"},
    ]});
    assert_eq!(
        org.post("accounts/Microsoft.Dynamics.CRM.UpsertMultiple", upserts)
            .status,
        204
    );
    assert_eq!(org.count("accounts"), 11);
    assert_eq!(org.get(&format!("accounts({fresh})")).json()["name"], "New");
}

fn batch_body(boundary: &str, parts: &[String]) -> String {
    let mut body = String::new();
    for part in parts {
        body.push_str(&format!("--{boundary}\r\n{part}\r\n"));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    body
}

fn http_part(method: &str, url: &str, content_id: Option<&str>, body: Option<Value>) -> String {
    let mut part =
        String::from("Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n");
    if let Some(id) = content_id {
        part.push_str(&format!("Content-ID: {id}\r\n"));
    }
    part.push_str(&format!("\r\n{method} {url} HTTP/1.1\r\n"));
    match body {
        Some(body) => part.push_str(&format!("Content-Type: application/json\r\n\r\n{body}\r\n")),
        None => part.push_str("\r\n"),
    }
    part
}

#[test]
fn a_failing_changeset_part_rolls_back_its_siblings() {
    let org = Org::default();
    let changeset = batch_body(
        "changeset_1",
        &[
            http_part(
                "POST",
                "accounts",
                Some("1"),
                Some(json!({"name": "In changeset"})),
            ),
            http_part(
                "POST",
                "contacts",
                Some("2"),
                Some(json!({"lastname": "Child", "parentcustomerid_account@odata.bind": "$1"})),
            ),
            http_part(
                "POST",
                "accounts",
                Some("3"),
                Some(json!({"name": "y".repeat(200)})),
            ),
        ],
    );
    let body = batch_body(
        "batch_1",
        &[format!(
            "Content-Type: multipart/mixed; boundary=changeset_1\r\n\r\n{changeset}"
        )],
    );
    let reply = org.send(
        "POST",
        "$batch",
        &[("Content-Type", "multipart/mixed; boundary=batch_1")],
        Some(body),
    );
    assert!(reply.text.contains("0x80044331"), "{}", reply.text);
    assert_eq!(org.count("accounts"), 0);
    assert_eq!(org.count("contacts"), 0);
}

#[test]
fn a_changeset_binds_by_content_id_and_continue_on_error_lets_other_parts_through() {
    let org = Org::default();
    let changeset = batch_body(
        "changeset_2",
        &[
            http_part(
                "POST",
                "accounts",
                Some("1"),
                Some(json!({"name": "Parent"})),
            ),
            http_part(
                "POST",
                "contacts",
                Some("2"),
                Some(json!({"lastname": "Child", "parentcustomerid_account@odata.bind": "$1"})),
            ),
        ],
    );
    let body = batch_body(
        "batch_2",
        &[
            format!("Content-Type: multipart/mixed; boundary=changeset_2\r\n\r\n{changeset}"),
            http_part(
                "POST",
                "accounts",
                None,
                Some(json!({"name": "z".repeat(300)})),
            ),
            http_part(
                "POST",
                "accounts",
                None,
                Some(json!({"name": "After the failure"})),
            ),
            http_part("GET", "accounts?$select=name", None, None),
        ],
    );
    let reply = org.send(
        "POST",
        "$batch",
        &[
            ("Content-Type", "multipart/mixed; boundary=batch_2"),
            ("Prefer", "odata.continue-on-error"),
        ],
        Some(body.clone()),
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(reply.text.contains("0x80044331"), "{}", reply.text);
    assert_eq!(
        org.count("accounts"),
        2,
        "the changeset's parent and the part after the failure"
    );
    let contacts = org.get("contacts").json();
    assert_eq!(
        contacts["value"][0]["_parentcustomerid_value@OData.Community.Display.V1.FormattedValue"],
        "Parent"
    );

    // Without continue-on-error the batch stops at the failure.
    let stopped = org.send(
        "POST",
        "$batch",
        &[("Content-Type", "multipart/mixed; boundary=batch_2")],
        Some(body),
    );
    assert!(stopped.text.contains("0x80044331"), "{}", stopped.text);
    assert_eq!(
        org.count("accounts"),
        3,
        "only the changeset's parent was added"
    );
}

#[test]
fn cases_are_resolved_through_close_incident_not_by_update() {
    let org = Org::default();
    let customer = org.account("Case Co");
    let case = org.create(
        "incidents",
        json!({"title": "Leak", "customerid_account@odata.bind": format!("/accounts({customer})")}),
    );
    let by_update = org.patch(
        &format!("incidents({case})"),
        json!({"statecode": 1, "statuscode": 5}),
    );
    assert_eq!(by_update.status, 400, "{}", by_update.text);
    let closed = org.post(
        "CloseIncident",
        json!({
            "IncidentResolution": {"subject": "Fixed", "incidentid@odata.bind": format!("/incidents({case})")},
            "Status": 5,
        }),
    );
    assert_eq!(closed.status, 204, "{}", closed.text);
    let row = org
        .get(&format!("incidents({case})?$select=statecode,statuscode"))
        .json();
    assert_eq!(
        (row["statecode"].as_i64(), row["statuscode"].as_i64()),
        (Some(1), Some(5))
    );
    // Cancelling is an update to state 2 / status 6.
    let other = org.create(
        "incidents",
        json!({"title": "Dup", "customerid_account@odata.bind": format!("/accounts({customer})")}),
    );
    assert_eq!(
        org.patch(
            &format!("incidents({other})"),
            json!({"statecode": 2, "statuscode": 6})
        )
        .status,
        204
    );
}

#[test]
fn equipment_and_addresses_associate_through_ref() {
    let org = Org::default();
    let account = org.account("Site Owner");
    let address = org.create(
        "customeraddresses",
        json!({"name": "Plant", "line1": "1 Main", "addressnumber": 3, "parentid_account@odata.bind": format!("/accounts({account})")}),
    );
    let equipment = org.create("st_equipments", json!({"st_name": "SN-1"}));
    let reply = org.post(
        &format!("st_equipments({equipment})/st_equipment_customeraddress/$ref"),
        json!({"@odata.id": format!("{}customeraddresses({address})", org.api())}),
    );
    assert_eq!(reply.status, 204, "{}", reply.text);
    let removed = org.send(
        "DELETE",
        &format!("st_equipments({equipment})/st_equipment_customeraddress({address})/$ref"),
        &[],
        None,
    );
    assert_eq!(removed.status, 204, "{}", removed.text);
}

// ------------------------------------------------------------------ validation

#[test]
fn writes_are_validated_as_dataverse_does() {
    let org = Org::default();
    let account = org.account("Valid Co");
    // statecode cannot be set on create.
    assert_eq!(
        org.post("accounts", json!({"name": "S", "statecode": 1}))
            .status,
        400
    );
    // statuscode must belong to the state.
    let pair = org.patch(
        &format!("accounts({account})"),
        json!({"statecode": 1, "statuscode": 1}),
    );
    assert_eq!(pair.status, 400, "{}", pair.text);
    // Option values must exist.
    let option = org.post(
        "customeraddresses",
        json!({"name": "x", "line1": "y", "addresstypecode": 99, "parentid_account@odata.bind": format!("/accounts({account})")}),
    );
    assert_eq!(option.status, 400, "{}", option.text);
    // overriddencreatedon is create-only and sets createdon.
    let old = org.create(
        "accounts",
        json!({"name": "Old", "overriddencreatedon": "2015-03-01T10:00:00Z"}),
    );
    assert!(org.get(&format!("accounts({old})")).json()["createdon"]
        .as_str()
        .unwrap()
        .starts_with("2015-03-01"));
    assert_eq!(
        org.patch(
            &format!("accounts({old})"),
            json!({"overriddencreatedon": "2016-01-01T00:00:00Z"})
        )
        .status,
        400
    );
    // Unknown columns and malformed JSON are 400s with Dataverse's code.
    assert_error(
        &org.post("accounts", json!({"nosuchcolumn": 1})),
        400,
        "0x80060888",
    );
    assert_error(
        &org.send("POST", "accounts", &[], Some("{not json".into())),
        400,
        "0x80060888",
    );
    assert_error(&org.get("nosuchset"), 404, "0x8006088a");
    assert_error(&org.get("accounts?$filter=name eq"), 400, "0x80060888");
    assert_error(&org.get("accounts?$filter=nosuch eq 1"), 400, "0x80060888");
}

#[test]
fn attachments_over_the_upload_limit_and_disabled_owners_are_refused() {
    let mut config = DataverseConfig::new("st");
    config.org.max_upload_bytes = 1000;
    let org = Org::start(config);
    let account = org.account("Files Inc");
    let small = base64_of(600);
    let large = base64_of(900); // 1,200 base64 characters: over 1,000
    org.create(
        "annotations",
        json!({"subject": "ok", "filename": "a.txt", "documentbody": small, "objectid_account@odata.bind": format!("/accounts({account})")}),
    );
    let refused = org.post(
        "annotations",
        json!({"subject": "big", "filename": "b.txt", "documentbody": large, "objectid_account@odata.bind": format!("/accounts({account})")}),
    );
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert_eq!(org.count("annotations"), 1);

    let users = org
        .get("systemusers?$select=internalemailaddress,isdisabled&$filter=isdisabled eq true")
        .json();
    let disabled = users["value"][0]["systemuserid"]
        .as_str()
        .expect("a seeded disabled user")
        .to_string();
    let owned = org.post(
        "accounts",
        json!({"name": "Owned", "ownerid@odata.bind": format!("/systemusers({disabled})")}),
    );
    assert_eq!(owned.status, 400, "{}", owned.text);
}

fn base64_of(bytes: usize) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(vec![7u8; bytes])
}

#[test]
fn oversized_and_malformed_batches_are_400s() {
    let org = Org::default();
    let parts: Vec<String> = (0..1001)
        .map(|_| http_part("GET", "WhoAmI", None, None))
        .collect();
    let reply = org.send(
        "POST",
        "$batch",
        &[("Content-Type", "multipart/mixed; boundary=b")],
        Some(batch_body("b", &parts)),
    );
    assert_eq!(reply.status, 400, "{}", reply.text);
    let broken = org.send(
        "POST",
        "$batch",
        &[("Content-Type", "multipart/mixed; boundary=b")],
        Some("--b\r\nnonsense".into()),
    );
    assert_eq!(broken.status, 400, "{}", broken.text);
}

// ------------------------------------------------------------------ limits, faults, state

#[test]
fn a_burst_over_the_scaled_limit_is_throttled_and_a_patient_client_succeeds() {
    let mut config = DataverseConfig::new("st");
    config.limits = "requests=5,window=2".parse().unwrap();
    let org = Org::start(config);
    let replies: Vec<Reply> = (0..8).map(|_| org.get("WhoAmI")).collect();
    let throttled: Vec<&Reply> = replies.iter().filter(|r| r.status == 429).collect();
    assert!(
        throttled.len() >= 3,
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    let first = throttled[0];
    assert_eq!(first.code(), "0x80072322");
    let wait: u64 = first.header("Retry-After").unwrap().parse().unwrap();
    assert!((1..=2).contains(&wait), "{wait}");
    assert!(replies[0]
        .header("x-ms-ratelimit-burst-remaining-xrm-requests")
        .is_some());
    assert!(replies[0].header("x-ms-dop-hint").is_some());

    let early_before = org.emulator.limit_stats().early_retries;
    assert!(early_before > 0, "requests after the first 429 came early");
    std::thread::sleep(Duration::from_secs(wait) + Duration::from_millis(100));
    let after = org.get("WhoAmI");
    assert_eq!(after.status, 200, "{}", after.text);
    assert_eq!(org.emulator.limit_stats().early_retries, early_before);
}

#[test]
fn injected_faults_fail_before_or_after_the_write() {
    let mut config = DataverseConfig::new("st");
    config.faults = "503=1.0,seed=1".parse().unwrap();
    let org = Org::start(config);
    let reply = org.post("accounts", json!({"name": "never"}));
    assert_error(&reply, 503, "0x80040216");

    let mut config = DataverseConfig::new("st");
    config.faults = "after-write=1.0,seed=1".parse().unwrap();
    let org = Org::start(config);
    let reply = org.post("accounts", json!({"name": "applied anyway"}));
    assert_eq!(reply.status, 503, "{}", reply.text);
    let stored = org.emulator.with_store(|s| s.count("account"));
    assert_eq!(
        stored, 1,
        "the write stands although the client saw a failure"
    );
    let ops = org.emulator.operations();
    assert!(ops
        .iter()
        .any(|o| o.fault.as_deref() == Some("failed after write")));

    let mut config = DataverseConfig::new("st");
    config.faults = "drop=1.0,seed=1".parse().unwrap();
    let org = Org::start(config);
    let dropped = org.runtime.block_on(async {
        org.client
            .post(format!("{}accounts", org.api()))
            .header("Authorization", format!("Bearer {}", org.token))
            .json(&json!({"name": "dropped"}))
            .send()
            .await
            .map(|r| r.status())
    });
    let body_failed = dropped.is_err();
    let started = Instant::now();
    assert!(body_failed || started.elapsed() < Duration::from_secs(5));
    assert_eq!(org.emulator.with_store(|s| s.count("account")), 0);
}

#[test]
fn the_state_file_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("org.json");
    let mut config = DataverseConfig::new("st");
    config.state_file = Some(state.clone());
    let org = Org::start(config.clone());
    let id = org.account("Persistent Ltd");
    org.post(
        "InsertOptionValue",
        json!({"EntityLogicalName": "incident", "AttributeLogicalName": "prioritycode", "Value": 100000000,
               "Label": {"LocalizedLabels": [{"Label": "Critical", "LanguageCode": 1033}]}}),
    );
    let Org { emulator, .. } = org;
    emulator.stop().unwrap();
    assert!(state.is_file());

    let org = Org::start(config);
    assert_eq!(
        org.get(&format!("accounts({id})")).json()["name"],
        "Persistent Ltd"
    );
    let priority = org.get("EntityDefinitions(LogicalName='incident')/Attributes(LogicalName='prioritycode')/Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$expand=OptionSet");
    assert!(priority.text.contains("100000000"), "{}", priority.text);
}

#[test]
fn required_columns_the_platform_enforces_are_refused() {
    let org = Org::default();
    let no_customer = org.post("incidents", json!({"title": "Who is this for?"}));
    assert_eq!(no_customer.status, 400, "{}", no_customer.text);
    assert_eq!(org.count("incidents"), 0);
    let no_parent = org.post(
        "customeraddresses",
        json!({"name": "Nowhere", "line1": "1 Main"}),
    );
    assert_eq!(no_parent.status, 400, "{}", no_parent.text);
}

#[test]
fn a_custom_table_can_be_created_then_written() {
    let org = Org::default();
    let created = org.post(
        "EntityDefinitions",
        json!({
            "@odata.type": "Microsoft.Dynamics.CRM.EntityMetadata",
            "SchemaName": "st_Site",
            "DisplayName": {"LocalizedLabels": [{"Label": "Site", "LanguageCode": 1033}]},
            "DisplayCollectionName": {"LocalizedLabels": [{"Label": "Sites", "LanguageCode": 1033}]},
            "OwnershipType": "UserOwned",
            "HasActivities": false,
            "HasNotes": true,
            "Attributes": [{
                "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata",
                "SchemaName": "st_Name",
                "IsPrimaryName": true,
                "MaxLength": 100,
                "RequiredLevel": {"Value": "ApplicationRequired"},
                "DisplayName": {"LocalizedLabels": [{"Label": "Name", "LanguageCode": 1033}]},
            }],
        }),
    );
    assert_eq!(created.status, 204, "{}", created.text);
    let definition = org.get("EntityDefinitions(LogicalName='st_site')").json();
    let set = definition["EntitySetName"].as_str().unwrap().to_string();
    org.create(&set, json!({"st_name": "North yard"}));
    assert_eq!(org.count(&set), 1);
}

#[test]
fn reset_empties_the_org_and_the_operations_log_records_requests() {
    let org = Org::default();
    org.account("Before reset");
    let ops = org.emulator.operations();
    let create = ops
        .iter()
        .find(|o| o.method == "POST" && o.path.ends_with("/accounts"))
        .expect("the create is logged");
    assert_eq!((create.status, create.records_written), (204, 1));
    let reset = org.runtime.block_on(async {
        org.client
            .post(format!("{}/_emulator/reset", org.emulator.url()))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    });
    assert_eq!(reset, 204);
    assert_eq!(org.count("accounts"), 0);
}
