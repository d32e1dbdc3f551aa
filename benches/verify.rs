//! `ferry verify`'s field-level diff on 1,000,000 records, side by side with
//! the least any diff must do: a plain DuckDB
//! `SELECT count(*) FROM stg.x FULL OUTER JOIN dv.x USING (pk)` over the
//! same two tables, in the same process and database file.
//!
//! The tables are synthetic but shaped like a real read-back: an account
//! table with text, e-mail and phone columns, a lookup, money, a float,
//! option-set integers, a boolean, a date and an instant compared through a
//! `verify.rules` redirection (overriddencreatedon → createdon). The target
//! copy is typed the way the read-back types it, and a small share of it is
//! planted: values changed, texts cut short, records deleted, records
//! added. The diff is the very code `ferry verify` runs
//! (`ferry::verify::diff` with the built-in `sql/verify/normalise.sql`),
//! and the bench checks that it finds exactly what was planted.
//!
//! Two baselines: the key-only join above, and the diff an analyst would
//! write by hand (the same join with `IS DISTINCT FROM` on every compared
//! column, counted) — the plain-DuckDB way to answer the same question.
//! Both run twice: through ferry's linked DuckDB in this process, and in the
//! stock DuckDB (the PyPI package of the same version, the independent
//! anchor) on a copy of the same database file, so a slow DuckDB build
//! inside ferry cannot hide behind a ratio. (ferry's own diff binds
//! parameters between its statements, so it runs in ferry only.)
//! Target: ratio diff ÷ stock hand-written diff ≤ 2.0. It prints the
//! figures; it does not fail. `cargo bench --bench verify` (with
//! `FERRY_LOG=ferry::verify=debug` for the time of each stage). Knobs:
//! `FERRY_BENCH_VERIFY_ROWS`
//! (default 1,000,000), `FERRY_BENCH_VERIFY_ROUNDS` (default 5; the
//! median is reported), `FERRY_BENCH_DIR` (scratch space).

mod support;

use std::time::Instant;

use ferry::verify::VerifySql;

const TABLE_SQL: &str = "
CREATE SCHEMA IF NOT EXISTS stg;
CREATE SCHEMA IF NOT EXISTS dv;
-- ids ------------------------------------------------------------------
CREATE OR REPLACE TABLE stg.account AS
SELECT
    -- a deterministic, well-spread GUID per row
    CAST(substr(md5(CAST(i AS VARCHAR)), 1, 8) || '-' || substr(md5(CAST(i AS VARCHAR)), 9, 4) || '-4'
         || substr(md5(CAST(i AS VARCHAR)), 14, 3) || '-8' || substr(md5(CAST(i AS VARCHAR)), 18, 3) || '-'
         || substr(md5(CAST(i AS VARCHAR)), 21, 12) AS UUID)                       AS accountid,
    'CUS-' || lpad(CAST(i AS VARCHAR), 7, '0')                                   AS st_record_id,
    -- text -----------------------------------------------------------------
    'Company ' || i || ' ' || (['Holdings', 'Services', 'Industries', 'Ltd'])[1 + i % 4] AS name,
    'info' || i || '@example' || (i % 97) || '.com'                              AS emailaddress1,
    '+1 555 ' || lpad(CAST(i % 10000 AS VARCHAR), 4, '0')                        AS telephone1,
    (['Springfield', 'Shelbyville', 'Ogdenville', 'North Haverbrook'])[1 + i % 4] AS address1_city,
    lpad(CAST(i % 99999 AS VARCHAR), 5, '0')                                     AS address1_postalcode,
    -- lookups --------------------------------------------------------------
    CASE WHEN i % 10 = 0 THEN NULL ELSE
    CAST(substr(md5(CAST(i % 5000 AS VARCHAR) || 'p'), 1, 8) || '-' || substr(md5(CAST(i % 5000 AS VARCHAR) || 'p'), 9, 4) || '-4'
         || substr(md5(CAST(i % 5000 AS VARCHAR) || 'p'), 14, 3) || '-8' || substr(md5(CAST(i % 5000 AS VARCHAR) || 'p'), 18, 3) || '-'
         || substr(md5(CAST(i % 5000 AS VARCHAR) || 'p'), 21, 12) AS UUID) END    AS parentaccountid,
    CASE WHEN i % 10 = 0 THEN NULL ELSE 'account' END                           AS parentaccountid_table,
    -- numbers --------------------------------------------------------------
    CAST((i % 100000) * 12.37 AS DECIMAL(18, 2))                                AS revenue,
    CAST((i % 1000) / 7.0 AS DOUBLE)                                             AS creditlimit,
    CAST(1 + i % 30 AS INTEGER)                                                  AS industrycode,
    CAST(CASE WHEN i % 13 = 0 THEN 1 ELSE 0 END AS INTEGER)                       AS statecode,
    CAST(CASE WHEN i % 13 = 0 THEN 2 ELSE 1 END AS INTEGER)                       AS statuscode,
    i % 3 = 0                                                                    AS donotemail,
    -- dates ----------------------------------------------------------------
    DATE '2015-01-01' + CAST(i % 3000 AS INTEGER)                                AS st_customer_since,
    TIMESTAMP '2012-01-01 08:00:00' + to_seconds(i * 97)                         AS overriddencreatedon
FROM range(?) t(i);

-- The target's copy, typed as the read-back types it, with planted
-- differences (keyed on the row number so the bench knows what to expect).
CREATE OR REPLACE TABLE dv.account AS
WITH numbered AS (SELECT row_number() OVER () - 1 AS i, * FROM stg.account)
SELECT
    accountid,
    st_record_id,
    CASE WHEN i % 911 = 5 THEN left(name, 9) ELSE name END                       AS name,
    emailaddress1,
    CASE WHEN i % 503 = 3 THEN '+1 555 9999' ELSE telephone1 END                 AS telephone1,
    address1_city,
    address1_postalcode,
    parentaccountid,
    parentaccountid_table,
    CAST(CASE WHEN i % 701 = 1 THEN revenue + 1 ELSE revenue END AS DECIMAL(38, 10)) AS revenue,
    CAST(creditlimit AS DECIMAL(38, 10))                                          AS creditlimit,
    CAST(industrycode AS BIGINT)                                                  AS industrycode,
    CAST(statecode AS BIGINT)                                                     AS statecode,
    CAST(statuscode AS BIGINT)                                                    AS statuscode,
    donotemail,
    st_customer_since,
    overriddencreatedon                                                           AS createdon
FROM numbered
WHERE i % 1009 <> 7
UNION ALL
SELECT gen_random_uuid(), 'CUS-X' || j, 'Stray ' || j, NULL, NULL, NULL, NULL, NULL, NULL,
       NULL, NULL, NULL, 0, 1, false, NULL, NULL
FROM range(?) u(j);
";

fn main() {
    // `FERRY_LOG=ferry::verify=debug` shows where the diff spends its time.
    ferry::init_logging();
    let rows: u64 = std::env::var("FERRY_BENCH_VERIFY_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let rounds: usize = std::env::var("FERRY_BENCH_VERIFY_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
        .max(1);
    let unexpected = rows / 2000;
    let scratch = support::scratch();
    let database = scratch.path().join("ferry.duckdb");
    let stock = support::StockDuckdb::install();
    let conn = ferry::duck::open(&database).expect("open DuckDB");

    eprintln!("setting up: {rows} staged records and their read-back …");
    let start = Instant::now();
    conn.execute_batch(
        &TABLE_SQL
            .replace("range(?) t(i)", &format!("range({rows}) t(i)"))
            .replace("range(?) u(j)", &format!("range({unexpected}) u(j)")),
    )
    .expect("build tables");
    ferry::push::audit::ensure(&conn).expect("audit tables");
    conn.execute_batch(ferry::verify::readback::dv_ddl())
        .expect("dv tables");
    // What the read-back and push would have recorded.
    conn.execute_batch(
        "INSERT INTO audit.runs (run_id, kind, target, started_at, status) VALUES (1, 'push', 'bench', now()::TIMESTAMP, 'finished');
         INSERT INTO audit.records (run_id, step, table_name, record_id, guid, operation, recorded_at)
           SELECT 1, 'records', 'account', st_record_id, accountid, 'created', now()::TIMESTAMP FROM stg.account;
         INSERT INTO dv.read_backs SELECT 'account', 'accounts', count(*), now()::TIMESTAMP, 'accountid', 'st_record_id' FROM dv.account;
         INSERT INTO dv.columns VALUES
           ('account', 'st_record_id', 'text', NULL, 100, 'st_record_id', false, NULL),
           ('account', 'name', 'text', NULL, 160, 'name', false, NULL),
           ('account', 'emailaddress1', 'text', NULL, 100, 'emailaddress1', false, NULL),
           ('account', 'telephone1', 'text', NULL, 50, 'telephone1', false, NULL),
           ('account', 'address1_city', 'text', NULL, 80, 'address1_city', false, NULL),
           ('account', 'address1_postalcode', 'text', NULL, 20, 'address1_postalcode', false, NULL),
           ('account', 'parentaccountid', 'lookup', NULL, NULL, 'parentaccountid', false, NULL),
           ('account', 'revenue', 'number', 2, NULL, 'revenue', false, NULL),
           ('account', 'creditlimit', 'number', 4, NULL, 'creditlimit', false, NULL),
           ('account', 'industrycode', 'integer', NULL, NULL, 'industrycode', false, NULL),
           ('account', 'statecode', 'integer', NULL, NULL, 'statecode', true, 'default state'),
           ('account', 'statuscode', 'integer', NULL, NULL, 'statuscode', true, 'default status'),
           ('account', 'donotemail', 'boolean', NULL, NULL, 'donotemail', false, NULL),
           ('account', 'st_customer_since', 'dateonly', NULL, NULL, 'st_customer_since', false, NULL),
           ('account', 'overriddencreatedon', 'datetime', NULL, NULL, 'createdon', false, 'moved into createdon');
         CHECKPOINT;",
    )
    .expect("audit and read-back records");
    eprintln!("  {:.1} s", start.elapsed().as_secs_f64());
    // The stock DuckDB gets a copy of these very bytes.
    drop(conn);
    let stock_database = scratch.path().join("stock.duckdb");
    support::copy_database(&database, &stock_database);
    let conn = ferry::duck::open(&database).expect("open DuckDB");

    let planted = |modulo: u64, rest: u64| (0..rows).filter(|i| i % modulo == rest).count() as u64;
    let missing = planted(1009, 7);
    let present = |modulo: u64, rest: u64| {
        (0..rows)
            .filter(|i| i % modulo == rest && i % 1009 != 7)
            .count() as u64
    };
    let truncated = present(911, 5);
    // A record can carry both a phone and a revenue change: it counts once.
    // The phone planted is the staged one when i % 10000 == 9999.
    let phone = |i: u64| i % 503 == 3 && i % 10000 != 9999;
    let differing = (0..rows)
        .filter(|&i| (phone(i) || i % 701 == 1) && i % 1009 != 7)
        .count() as u64;
    let truncated_only = (0..rows)
        .filter(|&i| i % 911 == 5 && !phone(i) && i % 701 != 1 && i % 1009 != 7)
        .count() as u64;

    let sql = VerifySql::builtin();
    let plain = "SELECT count(*) FROM stg.account FULL OUTER JOIN dv.account USING (accountid)";
    // What an analyst would write by hand for the same question, without
    // ferry's normalisation, classification or tables of results: every
    // compared column once, IS DISTINCT FROM, counted.
    let hand_written = "SELECT count(*) FROM stg.account s FULL OUTER JOIN dv.account d USING (accountid)
        WHERE s.accountid IS NULL OR d.accountid IS NULL
           OR s.st_record_id IS DISTINCT FROM d.st_record_id
           OR s.name IS DISTINCT FROM d.name
           OR s.emailaddress1 IS DISTINCT FROM d.emailaddress1
           OR s.telephone1 IS DISTINCT FROM d.telephone1
           OR s.address1_city IS DISTINCT FROM d.address1_city
           OR s.address1_postalcode IS DISTINCT FROM d.address1_postalcode
           OR s.parentaccountid IS DISTINCT FROM d.parentaccountid
           OR s.revenue IS DISTINCT FROM d.revenue
           OR round(s.creditlimit, 10) IS DISTINCT FROM d.creditlimit
           OR s.industrycode IS DISTINCT FROM d.industrycode
           OR s.statecode IS DISTINCT FROM d.statecode
           OR s.statuscode IS DISTINCT FROM d.statuscode
           OR s.donotemail IS DISTINCT FROM d.donotemail
           OR s.st_customer_since IS DISTINCT FROM d.st_customer_since
           OR date_trunc('second', s.overriddencreatedon) IS DISTINCT FROM date_trunc('second', d.createdon)";
    let mut by_hand = Vec::new();
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    let mut summary = None;
    for round in 0..rounds {
        eprintln!("round {} of {rounds} …", round + 1);
        let start = Instant::now();
        let n: i64 = conn.query_row(plain, [], |r| r.get(0)).expect("plain join");
        theirs.push(start.elapsed().as_secs_f64());
        assert_eq!(n as u64, rows + unexpected);
        let start = Instant::now();
        let n: i64 = conn
            .query_row(hand_written, [], |r| r.get(0))
            .expect("hand-written diff");
        by_hand.push(start.elapsed().as_secs_f64());
        assert_eq!(n as u64, differing + truncated_only + missing + unexpected);
        let start = Instant::now();
        summary = Some(ferry::verify::diff(&conn, &sql).expect("ferry's diff"));
        ours.push(start.elapsed().as_secs_f64());
    }
    eprintln!(
        "{}: the same two baselines, {rounds} rounds …",
        stock.describe()
    );
    let stock_statements: Vec<(String, String)> = (0..rounds)
        .flat_map(|round| {
            [
                (format!("plain {round}"), plain.to_string()),
                (format!("hand-written {round}"), hand_written.to_string()),
            ]
        })
        .collect();
    let stock_run = stock.run(Some(&stock_database), false, &stock_statements);
    let stock_times = |what: &str| -> Vec<f64> {
        stock_run
            .timings
            .iter()
            .filter(|t| t.name.starts_with(what))
            .map(|t| {
                let expected = if what == "plain" {
                    rows + unexpected
                } else {
                    differing + truncated_only + missing + unexpected
                };
                assert_eq!(t.rows, Some(expected as i64), "stock DuckDB's {}", t.name);
                t.seconds
            })
            .collect()
    };
    let (mut stock_plain, mut stock_by_hand) = (stock_times("plain"), stock_times("hand-written"));
    let summary = summary.expect("at least one round");
    let t = &summary.tables[0];
    let found = (t.differing, t.truncated, t.missing, t.unexpected);
    let expected = (differing, truncated_only, missing, unexpected);
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (ours, theirs, by_hand) = (median(&mut ours), median(&mut theirs), median(&mut by_hand));
    let (stock_plain, stock_by_hand) = (median(&mut stock_plain), median(&mut stock_by_hand));

    println!();
    println!(
        "ferry verify diff benchmark: {rows} staged records, {} in the target; 15 compared columns; median of {rounds} rounds",
        rows - missing + unexpected
    );
    println!(
        "planted: {differing} differing records, {truncated} truncated values ({truncated_only} records with only a truncation), {missing} missing, {unexpected} unexpected"
    );
    println!(
        "found:   {} differing, {} truncated, {} missing, {} unexpected; {} value differences{}",
        t.differing,
        t.truncated,
        t.missing,
        t.unexpected,
        summary.differences,
        if found == expected {
            " — exactly what was planted"
        } else {
            " — NOT what was planted"
        }
    );
    println!("anchor: {}", stock.describe());
    println!("{:<44} {:>14} {:>14}", "", "ferry's DuckDB", "stock DuckDB");
    println!(
        "{:<44} {:>14.3} {:>14}",
        "ferry::verify::diff (what ferry verify runs)", ours, "-"
    );
    println!(
        "{:<44} {:>14.3} {:>14.3}",
        "plain FULL OUTER JOIN … count(*)", theirs, stock_plain
    );
    println!(
        "{:<44} {:>14.3} {:>14.3}",
        "hand-written FULL OUTER JOIN diff count(*)", by_hand, stock_by_hand
    );
    println!();
    println!(
        "ratio ferry diff / stock plain key join: {:.2} (the key-only join reads none of the compared columns)",
        ours / stock_plain
    );
    println!(
        "ratio ferry diff / stock hand-written diff: {:.2} (target ≤ 2.0; in-process {:.2})",
        ours / stock_by_hand,
        ours / by_hand
    );
    println!(
        "ratio ferry's DuckDB / stock DuckDB on the same SQL: key join {:.2}, hand-written diff {:.2} (≈ 1 for a release build)",
        theirs / stock_plain,
        by_hand / stock_by_hand
    );
}
