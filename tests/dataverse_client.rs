//! ferry's Dataverse Web API client against the in-process emulator: sign-in,
//! metadata reads and schema changes, bulk writes and paged reads, `$batch`,
//! and the retry discipline under throttling and injected faults — plus the
//! guarantees that the secret never shows and that http is loopback-only.

use std::collections::HashSet;
use std::time::Duration;

use dataverse_emulator::{DataverseConfig, DataverseEmulator, RunningDataverse};
use ferry::dataverse::client::{
    BatchRequest, ClientOptions, Credentials, DataverseClient, DvClientError,
};
use ferry::dataverse::schema::{AlternateKey, Column, ColumnType, Ownership, RequiredLevel, Table};
use ferry::Error;
use reqwest::Method;
use serde_json::{json, Map, Value};
use uuid::Uuid;

const SECRET: &str = "s3cret-for-tests";

fn start(config: DataverseConfig) -> RunningDataverse {
    DataverseEmulator::new(config)
        .spawn("127.0.0.1:0".parse().unwrap())
        .expect("spawn the emulator")
}

fn credentials(org: &RunningDataverse, secret: &str) -> Credentials {
    Credentials::new(
        &org.url(),
        None,
        "tenant-1",
        "ferry-loader",
        secret.to_string(),
    )
    .expect("loopback credentials")
}

async fn connect(org: &RunningDataverse) -> DataverseClient {
    DataverseClient::connect(credentials(org, SECRET))
        .await
        .expect("connect")
}

fn text_column(name: &str, max_length: i64) -> Column {
    Column {
        name: name.to_string(),
        column_type: ColumnType::String,
        max_length: Some(max_length),
        required_level: RequiredLevel::None,
        targets: Vec::new(),
        options: Vec::new(),
        format: Some("Text".to_string()),
        behavior: None,
        min: None,
        max: None,
        precision: None,
        valid_for_create: None,
        valid_for_update: None,
        custom: true,
    }
}

fn lookup_column(name: &str, target: &str) -> Column {
    Column {
        column_type: ColumnType::Lookup,
        max_length: None,
        format: None,
        targets: vec![target.to_string()],
        ..text_column(name, 0)
    }
}

fn accounts(n: usize, tag: &str) -> Vec<Map<String, Value>> {
    (0..n)
        .map(|i| {
            let id = Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("{tag}:{i}").as_bytes());
            let row = json!({"accountid": id.to_string(), "name": format!("{tag} account {i}")});
            row.as_object().unwrap().clone()
        })
        .collect()
}

fn id_of(row: &Map<String, Value>, column: &str) -> Uuid {
    Uuid::parse_str(row[column].as_str().expect("id column")).expect("a GUID")
}

// ------------------------------------------------------------------ auth

#[tokio::test]
async fn connects_with_client_credentials_and_asks_who_it_is() {
    let org = start(DataverseConfig::new("st"));
    let client = connect(&org).await;
    let me = client.whoami().await.expect("WhoAmI");
    assert!(!me.user_id.is_nil());
    assert!(!me.organization_id.is_nil());
    // The emulator sends x-ms-dop-hint with every answer.
    assert!(client.dop_hint().is_some_and(|n| n >= 1));
    let stats = client.stats();
    assert_eq!(stats.requests, 2, "token + WhoAmI: {stats:?}");
    assert_eq!((stats.throttled, stats.retries), (0, 0));
    assert!(!format!("{client:?}").contains(SECRET));
}

#[tokio::test]
async fn a_wrong_secret_is_a_remote_failure_that_never_shows_the_secret() {
    let mut config = DataverseConfig::new("st");
    config.client_secret = Some("right".into());
    let org = start(config);
    let wrong = "wrong-secret-value-123";
    let creds = credentials(&org, wrong).with_secret_source("$FERRY_CLIENT_SECRET");
    assert!(!format!("{creds:?}").contains(wrong));
    let err = DataverseClient::connect(creds).await.unwrap_err();
    assert!(matches!(err, DvClientError::Auth(_)), "{err:?}");
    assert!(!format!("{err:?}").contains(wrong));
    let err: Error = err.into();
    assert_eq!(err.exit_code(), 3);
    let message = err.to_string();
    assert!(!message.contains(wrong), "{message}");
    assert!(message.contains("invalid_client"), "{message}");
    assert!(message.contains("$FERRY_CLIENT_SECRET"), "{message}");
    assert!(message.contains("ferry-loader"), "{message}");
}

#[tokio::test]
async fn credentials_come_from_the_target_settings_and_the_environment() {
    let org = start(DataverseConfig::new("st"));
    let var = "FERRY_TEST_DV_CLIENT_SECRET_1";
    let mut target = ferry::workspace::TargetConfig {
        url: Some(org.url()),
        client_secret_env: var.to_string(),
        ..Default::default()
    };
    let err = Credentials::from_target(&target).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().contains(var), "{err}");

    std::env::set_var(var, SECRET);
    let creds = Credentials::from_target(&target).unwrap();
    // A loopback org is its own token authority; tenant and client id
    // default for it.
    assert_eq!(creds.authority, org.url());
    assert_eq!(
        creds.token_url(),
        format!("{}/ferry/oauth2/v2.0/token", org.url())
    );
    assert!(!format!("{creds:?}").contains(SECRET));
    DataverseClient::connect(creds).await.expect("connect");

    target.url = Some("https://contoso.crm.dynamics.com".into());
    let err = Credentials::from_target(&target).unwrap_err();
    assert!(err.to_string().contains("target.tenant"), "{err}");
    target.tenant = Some("contoso.onmicrosoft.com".into());
    target.client_id = Some("00000000-0000-0000-0000-0000000000aa".into());
    let creds = Credentials::from_target(&target).unwrap();
    assert_eq!(
        creds.token_url(),
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
    );
    assert_eq!(creds.scope(), "https://contoso.crm.dynamics.com/.default");
    std::env::remove_var(var);
}

#[test]
fn plain_http_is_refused_for_anything_but_loopback() {
    let new = |org: &str, authority: Option<&str>| {
        Credentials::new(org, authority, "t", "c", "secret".into())
    };
    let err = new("http://contoso.crm.dynamics.com", None).unwrap_err();
    assert!(matches!(err, Error::Usage(_)), "{err:?}");
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().contains("https://"), "{err}");
    assert!(err.to_string().contains("unencrypted"), "{err}");
    let err = new(
        "https://contoso.crm.dynamics.com",
        Some("http://login.example.com"),
    )
    .unwrap_err();
    assert!(err.to_string().contains("target.authority"), "{err}");
    assert!(new("ftp://127.0.0.1", None).is_err());
    assert!(new("not a url", None).is_err());

    for loopback in [
        "http://127.0.0.1:8080",
        "http://localhost:1",
        "http://[::1]:5555/",
    ] {
        let creds = new(loopback, None).unwrap();
        assert_eq!(creds.authority, loopback.trim_end_matches('/'));
    }
    let real = new("https://contoso.crm.dynamics.com/api/data/v9.2/", None).unwrap();
    assert_eq!(real.org_url, "https://contoso.crm.dynamics.com");
    assert_eq!(real.authority, "https://login.microsoftonline.com");
    assert!(Credentials::new("https://x.crm.dynamics.com", None, "t", "c", String::new()).is_err());
}

// ------------------------------------------------------------------ metadata

#[tokio::test]
async fn reads_table_definitions_with_lengths_options_and_keys() {
    let org = start(DataverseConfig::new("st"));
    let client = connect(&org).await;
    let tables = client
        .entity_definitions(&["account", "incident", "nosuchtable"])
        .await
        .expect("definitions");
    let names: Vec<&str> = tables.iter().map(|t| t.logical_name.as_str()).collect();
    assert_eq!(
        names,
        ["account", "incident"],
        "a missing table is left out"
    );

    let account = &tables[0];
    assert_eq!(account.entity_set_name, "accounts");
    assert_eq!(account.primary_id, "accountid");
    assert_eq!(account.column("name").unwrap().max_length, Some(160));

    let incident = &tables[1];
    let priority = incident.column("prioritycode").unwrap();
    assert_eq!(priority.column_type, ColumnType::Picklist);
    let values: Vec<i32> = priority.options.iter().map(|o| o.value).collect();
    assert_eq!(values, [1, 2, 3]);
    assert_eq!(priority.option(1).unwrap().label, "High");
    let status = incident.column("statuscode").unwrap();
    assert_eq!(
        status.option(5).unwrap().state,
        Some(1),
        "status options carry their state"
    );
    let state = incident.column("statecode").unwrap();
    assert!(state.options.iter().any(|o| o.value == 2));
}

#[tokio::test]
async fn creates_columns_keys_and_option_values_and_reads_them_back() {
    let org = start(DataverseConfig::new("st"));
    let client = connect(&org).await;

    client
        .create_column("account", &text_column("st_legacycode", 20))
        .await
        .expect("create a text column");
    client
        .create_key("account", "st_legacycode_key", &["st_legacycode"])
        .await
        .expect("create a key");
    let mut money = text_column("st_creditlimit2", 0);
    money.column_type = ColumnType::Money;
    money.max_length = None;
    money.format = None;
    money.precision = Some(2);
    client
        .create_column("account", &money)
        .await
        .expect("money");
    let mut choice = text_column("st_tier", 0);
    choice.column_type = ColumnType::Picklist;
    choice.max_length = None;
    choice.format = None;
    choice.options = vec![ferry::dataverse::schema::OptionValue {
        value: 100_000_000,
        label: "Gold".into(),
        state: None,
        default_status: None,
    }];
    client
        .create_column("account", &choice)
        .await
        .expect("choice");
    // Lookups go through a relationship (the emulator takes them on the
    // Attributes collection instead; the client handles both).
    client
        .create_column("account", &lookup_column("st_equipmentid", "st_equipment"))
        .await
        .expect("create a lookup");

    let value = client
        .insert_option_value("incident", "prioritycode", Some(100_000_000), "Critical")
        .await
        .expect("InsertOptionValue");
    assert_eq!(value, 100_000_000);
    client.publish_all().await.expect("PublishAllXml");

    let tables = client
        .entity_definitions(&["account", "incident"])
        .await
        .unwrap();
    let account = &tables[0];
    let legacy = account.column("st_legacycode").expect("the new column");
    assert_eq!(legacy.column_type, ColumnType::String);
    assert_eq!(legacy.max_length, Some(20));
    assert_eq!(
        account.column("st_creditlimit2").unwrap().precision,
        Some(2)
    );
    assert_eq!(
        account
            .column("st_tier")
            .unwrap()
            .option(100_000_000)
            .unwrap()
            .label,
        "Gold"
    );
    assert_eq!(
        account.column("st_equipmentid").unwrap().targets,
        ["st_equipment"]
    );
    assert_eq!(
        account.keys,
        [AlternateKey {
            name: "st_legacycode_key".into(),
            columns: vec!["st_legacycode".into()]
        }]
    );
    let priority = tables[1].column("prioritycode").unwrap();
    assert_eq!(priority.option(100_000_000).unwrap().label, "Critical");

    // A duplicate is Dataverse's error, with its code, not a panic.
    let err = client
        .create_column("account", &text_column("st_legacycode", 20))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert_eq!(err.code(), Some("0x80040237"));

    // The new option value is usable at once.
    let customer = client
        .create_multiple("accounts", "account", &accounts(1, "critical"))
        .await
        .unwrap()[0];
    let case = json!({
        "title": "Boiler down",
        "prioritycode": 100_000_000,
        "customerid_account@odata.bind": format!("/accounts({customer})"),
    });
    client
        .create_multiple(
            "incidents",
            "incident",
            &[case.as_object().unwrap().clone()],
        )
        .await
        .expect("a Critical case");
}

#[tokio::test]
async fn creates_a_custom_table_with_its_columns_and_key() {
    let org = start(DataverseConfig::new("st"));
    let client = connect(&org).await;
    let mut date = text_column("st_visitedon", 0);
    date.column_type = ColumnType::DateTime;
    date.max_length = None;
    date.format = Some("DateOnly".into());
    date.behavior = Some("DateOnly".into());
    let mut name = text_column("st_name", 200);
    name.required_level = RequiredLevel::ApplicationRequired;
    let table = Table {
        logical_name: "st_site".into(),
        entity_set_name: "st_sites".into(),
        primary_id: "st_siteid".into(),
        primary_name: "st_name".into(),
        ownership: Ownership::UserOwned,
        columns: vec![
            Column {
                column_type: ColumnType::Uniqueidentifier,
                max_length: None,
                format: None,
                required_level: RequiredLevel::SystemRequired,
                ..text_column("st_siteid", 0)
            },
            name,
            text_column("st_code", 40),
            date,
            lookup_column("st_accountid", "account"),
        ],
        keys: vec![AlternateKey {
            name: "st_site_code".into(),
            columns: vec!["st_code".into()],
        }],
        custom: true,
    };
    client.create_table(&table).await.expect("create the table");

    let read = client.entity_definitions(&["st_site"]).await.unwrap();
    let site = &read[0];
    assert_eq!(site.entity_set_name, "st_sites");
    assert_eq!(site.primary_name, "st_name");
    assert_eq!(site.column("st_name").unwrap().max_length, Some(200));
    assert_eq!(
        site.column("st_name").unwrap().required_level,
        RequiredLevel::ApplicationRequired
    );
    assert_eq!(site.column("st_code").unwrap().max_length, Some(40));
    assert_eq!(
        site.column("st_visitedon").unwrap().behavior.as_deref(),
        Some("DateOnly")
    );
    assert_eq!(site.column("st_accountid").unwrap().targets, ["account"]);
    assert!(
        site.column("ownerid").is_some(),
        "the platform adds the owner"
    );
    assert_eq!(site.keys.len(), 1);

    // And it takes records, by alternate key too.
    let account = client
        .create_multiple("accounts", "account", &accounts(1, "site-owner"))
        .await
        .unwrap()[0];
    let row = json!({
        "st_name": "Main plant", "st_code": "S-1", "st_visitedon": "2024-05-01",
        "st_accountid@odata.bind": format!("/accounts({account})"),
    });
    client
        .upsert_multiple(
            "st_sites",
            "st_site",
            &[{
                let mut r = row.as_object().unwrap().clone();
                r.insert("@odata.id".into(), json!("st_sites(st_code='S-1')"));
                r
            }],
        )
        .await
        .expect("upsert by key");
    let rows = client
        .get_all("st_sites?$select=st_name,st_code", 10)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["st_code"], "S-1");
}

// ------------------------------------------------------------------ records

#[tokio::test]
async fn bulk_creates_2500_records_and_pages_through_them_once_each() {
    let org = start(DataverseConfig::new("st"));
    let client = connect(&org).await;
    let rows = accounts(2_500, "bulk");
    // One call: the client sends it as requests of at most 1,000 records.
    let ids = client
        .create_multiple("accounts", "account", &rows)
        .await
        .expect("CreateMultiple");
    assert_eq!(ids.len(), 2_500);
    let expected: Vec<Uuid> = rows.iter().map(|r| id_of(r, "accountid")).collect();
    assert_eq!(ids, expected, "deterministic ids are kept, in order");
    let bulk_requests = org
        .operations()
        .iter()
        .filter(|op| op.path.ends_with("CreateMultiple"))
        .map(|op| op.records_written)
        .collect::<Vec<_>>();
    assert_eq!(bulk_requests, [1000, 1000, 500]);

    let read = client
        .get_all("accounts?$select=name,accountid", 1_000)
        .await
        .expect("paged read");
    assert_eq!(read.len(), 2_500);
    let unique: HashSet<Uuid> = read.iter().map(|r| id_of(r, "accountid")).collect();
    assert_eq!(unique.len(), 2_500, "no row twice");
    assert_eq!(unique, expected.iter().copied().collect::<HashSet<_>>());
    let pages = org
        .operations()
        .iter()
        .filter(|op| op.method == "GET" && op.path.contains("/accounts?"))
        .count();
    assert_eq!(pages, 3, "1,000 per page");

    // A page by hand, and its next link.
    let first = client
        .get_page("accounts?$select=name", Some(2_000))
        .await
        .unwrap();
    assert_eq!(first.rows.len(), 2_000);
    let link = first.next_link.expect("a next link");
    let second = client.get_page(&link, Some(2_000)).await.unwrap();
    assert_eq!(second.rows.len(), 500);
    assert!(second.next_link.is_none());

    // UpdateMultiple by primary id.
    let renamed: Vec<Map<String, Value>> = expected[..3]
        .iter()
        .map(|id| {
            json!({"accountid": id.to_string(), "name": "Renamed"})
                .as_object()
                .unwrap()
                .clone()
        })
        .collect();
    client
        .update_multiple("accounts", "account", &renamed)
        .await
        .unwrap();
    let page = client
        .get_page("accounts?$select=name&$filter=name eq 'Renamed'", None)
        .await
        .unwrap();
    assert_eq!(page.rows.len(), 3);
}

#[tokio::test]
async fn dataverse_errors_carry_status_code_and_message() {
    let org = start(DataverseConfig::new("st"));
    let client = connect(&org).await;
    let too_long = json!({"name": "x".repeat(161)});
    let err = client
        .create_multiple(
            "accounts",
            "account",
            &[too_long.as_object().unwrap().clone()],
        )
        .await
        .unwrap_err();
    match &err {
        DvClientError::Remote {
            status,
            code,
            message,
            request,
        } => {
            assert_eq!(*status, 400);
            assert_eq!(code, "0x80044331");
            assert!(!message.is_empty());
            assert!(request.contains("CreateMultiple"), "{request}");
        }
        other => panic!("expected a Remote error, got {other:?}"),
    }
    let err: Error = err.into();
    assert_eq!(err.exit_code(), 3);
    assert!(err.to_string().contains("0x80044331"), "{err}");
    assert!(err.to_string().contains("what to do"), "{err}");

    let missing = client
        .get_json(&format!("accounts({})", Uuid::new_v4()))
        .await
        .unwrap_err();
    assert!(missing.is_not_found());

    // The token only ever goes to the org.
    let elsewhere = client
        .get_page("https://evil.example.com/api/data/v9.2/accounts", None)
        .await
        .unwrap_err();
    assert!(
        matches!(elsewhere, DvClientError::Invalid(_)),
        "{elsewhere:?}"
    );
    // Names are checked before they are spliced into a URL.
    assert!(client.entity_definitions(&["account')/x"]).await.is_err());
}

#[tokio::test]
async fn single_requests_and_batches() {
    let org = start(DataverseConfig::new("st"));
    let client = connect(&org).await;
    let id = Uuid::new_v4();
    let upsert = client
        .send_json(
            Method::PATCH,
            &format!("accounts({id})"),
            Some(&json!({"name": "Upserted"})),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(upsert.status, 204);
    assert_eq!(upsert.id(), Some(id));

    let parts = vec![
        BatchRequest::new(
            Method::POST,
            "accounts",
            Some(json!({"name": "In batch 1"})),
        ),
        BatchRequest::new(
            Method::POST,
            "accounts",
            Some(json!({"name": "In batch 2"})),
        ),
    ];
    let answers = client
        .send_batch(&parts, true, false)
        .await
        .expect("$batch");
    assert_eq!(answers.len(), 2);
    assert!(answers.iter().all(|a| a.status == 204), "{answers:?}");
    assert_eq!(answers[0].content_id.as_deref(), Some("1"));

    let mixed = vec![
        BatchRequest::new(Method::GET, format!("accounts({id})?$select=name"), None),
        BatchRequest::new(
            Method::POST,
            "accounts",
            Some(json!({"name": "x".repeat(200)})),
        ),
        BatchRequest::new(
            Method::POST,
            "accounts",
            Some(json!({"name": "After the failure"})),
        ),
    ];
    let answers = client
        .send_batch(&mixed, false, true)
        .await
        .expect("$batch");
    assert_eq!(answers.len(), 3);
    assert_eq!(answers[0].status, 200);
    assert_eq!(answers[0].body.as_ref().unwrap()["name"], "Upserted");
    assert_eq!(answers[1].status, 400);
    assert_eq!(answers[1].error().unwrap().0, "0x80044331");
    assert_eq!(answers[2].status, 204);
    let count = client
        .get_all("accounts?$select=name", 100)
        .await
        .unwrap()
        .len();
    assert_eq!(count, 4);
}

// ------------------------------------------------------------------ retries

#[tokio::test]
async fn throttling_is_waited_out_never_retried_early() {
    let mut config = DataverseConfig::new("st");
    config.limits = "requests=5,window=2".parse().unwrap();
    let org = start(config);
    let client = connect(&org).await;
    for _ in 0..12 {
        client.whoami().await.expect("every request completes");
    }
    let stats = client.stats();
    assert!(stats.throttled >= 1, "{stats:?}");
    assert!(stats.waited_ms >= 1_000, "{stats:?}");
    let limits = org.limit_stats();
    assert!(limits.throttled >= 1, "{limits:?}");
    assert_eq!(limits.early_retries, 0, "{limits:?}");
    assert_eq!(limits.admitted, 12, "{limits:?}");
}

#[tokio::test]
async fn injected_503s_are_retried_and_every_record_is_written_once() {
    let mut config = DataverseConfig::new("st");
    config.faults = "503=0.3,seed=3".parse().unwrap();
    let org = start(config);
    let options = ClientOptions {
        first_backoff: Duration::from_millis(20),
        ..ClientOptions::default()
    };
    let client = DataverseClient::connect_with(credentials(&org, SECRET), options)
        .await
        .expect("connect");
    let rows = accounts(1_000, "faulty");
    for chunk in rows.chunks(100) {
        client
            .create_multiple("accounts", "account", chunk)
            .await
            .expect("the chunk is written despite 503s");
    }
    let stats = client.stats();
    assert!(stats.retries >= 1, "the faults were met: {stats:?}");
    let read = client
        .get_all("accounts?$select=accountid", 5_000)
        .await
        .unwrap();
    assert_eq!(read.len(), 1_000);
    let unique: HashSet<Uuid> = read.iter().map(|r| id_of(r, "accountid")).collect();
    let expected: HashSet<Uuid> = rows.iter().map(|r| id_of(r, "accountid")).collect();
    assert_eq!(unique, expected, "every record exactly once");
    let unavailable = org
        .operations()
        .iter()
        .filter(|op| op.status == 503)
        .count();
    assert!(unavailable >= 1);
}

#[tokio::test]
async fn a_server_that_keeps_failing_ends_in_a_remote_error_after_the_attempts() {
    let mut config = DataverseConfig::new("st");
    config.faults = "503=1".parse().unwrap();
    let org = start(config);
    let options = ClientOptions {
        max_attempts: 3,
        first_backoff: Duration::from_millis(5),
        ..ClientOptions::default()
    };
    let client = DataverseClient::connect_with(credentials(&org, SECRET), options)
        .await
        .expect("the token endpoint is not faulted");
    let err = client.whoami().await.unwrap_err();
    assert_eq!(err.status(), Some(503), "{err:?}");
    assert_eq!(org.operations().len(), 3, "exactly max_attempts requests");
    assert_eq!(client.stats().retries, 2);
    let err: Error = err.into();
    assert_eq!(err.exit_code(), 3);
    assert!(err.to_string().contains("failed 3 times"), "{err}");
}

#[tokio::test]
async fn an_unreachable_org_is_a_transport_error_naming_what_to_check() {
    // A port nobody listens on: bind, note it, let it go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let creds = Credentials::new(
        &format!("http://127.0.0.1:{port}"),
        None,
        "t",
        "c",
        SECRET.into(),
    )
    .unwrap();
    let options = ClientOptions {
        max_attempts: 2,
        first_backoff: Duration::from_millis(5),
        ..ClientOptions::default()
    };
    let err = DataverseClient::connect_with(creds, options)
        .await
        .unwrap_err();
    assert!(matches!(err, DvClientError::Transport(_)), "{err:?}");
    let err: Error = err.into();
    assert_eq!(err.exit_code(), 3);
    assert!(err.to_string().contains("after 2 attempts"), "{err}");
    assert!(!err.to_string().contains(SECRET));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_client_serves_concurrent_tasks() {
    let org = start(DataverseConfig::new("st"));
    let client = std::sync::Arc::new(connect(&org).await);
    let rows = accounts(400, "parallel");
    let mut tasks = Vec::new();
    for chunk in rows.chunks(50) {
        let client = client.clone();
        let chunk = chunk.to_vec();
        // `tokio::spawn` needs Send futures: this is what the loader does.
        tasks.push(tokio::spawn(async move {
            client.create_multiple("accounts", "account", &chunk).await
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap().expect("a chunk").len(), 50);
    }
    let read = client
        .get_all("accounts?$select=accountid", 5_000)
        .await
        .unwrap();
    assert_eq!(read.len(), 400);
    assert_eq!(
        client.stats().requests,
        1 + 8 + 1,
        "token, 8 chunks, 1 page"
    );
}
