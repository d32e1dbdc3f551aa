//! One file per command. `dispatch` turns the parsed command line into a
//! validated workspace and calls the command; commands return an
//! [`Outcome`] (exit 0 or 1) or an [`crate::Error`] (exit 2 or 3).

mod crate_errors;
pub mod demo;
pub mod extract;
pub mod generate;
pub mod init;
pub mod map;
pub mod output;
pub mod plan;
pub mod reconcile;
pub mod report;
pub mod run;
pub mod serve;
pub mod sql;
pub mod stage;
pub mod transform;
pub mod validate;
pub mod verify;

use crate::cli::{Cli, Command, MapAction, ServeTarget, TransformAction};
use crate::workspace::Workspace;
use crate::{Outcome, Result};

/// The workspace, talking to the target `--target` names (or the default).
fn open_at(dir: &std::path::Path, target: Option<String>) -> Result<Workspace> {
    Workspace::open(dir)?.with_target(target.as_deref())
}

pub fn dispatch(cli: Cli) -> Result<Outcome> {
    let json = cli.json;
    match cli.command {
        Command::Init {
            dir,
            profile,
            source,
            target,
        } => init::run(&dir, profile, source.as_deref(), target.as_deref(), json),
        Command::Generate {
            dir,
            mutate: true,
            seed,
            change,
            delete,
            ..
        } => generate::run_mutate(&dir, change, delete, seed, json),
        Command::Generate {
            dir,
            customers,
            seed,
            clean,
            ..
        } => generate::run(&dir, customers, seed, clean, json),
        Command::Extract {
            allow_pending,
            since,
        } => extract::run(
            &Workspace::open(&cli.workspace)?,
            allow_pending,
            since.as_deref(),
            json,
        ),
        Command::Stage => stage::run(&Workspace::open(&cli.workspace)?, json),
        Command::Transform { action: None } => {
            transform::run(&Workspace::open(&cli.workspace)?, json)
        }
        Command::Transform {
            action: Some(TransformAction::Status),
        } => transform::status(&Workspace::open(&cli.workspace)?, json),
        Command::Map {
            action: MapAction::Propose { target },
        } => map::propose(&open_at(&cli.workspace, target)?, json),
        Command::Map {
            action: MapAction::Confirm { by },
        } => map::confirm(&Workspace::open(&cli.workspace)?, by, json),
        Command::Map {
            action: MapAction::Status,
        } => map::status(&Workspace::open(&cli.workspace)?, json),
        Command::Push {
            dry_run,
            sample,
            only,
            target,
        } => crate::push::run(
            &open_at(&cli.workspace, target)?,
            &crate::push::PushOptions {
                dry_run,
                sample,
                only,
            },
            json,
        ),
        Command::Rollback { run, target } => {
            crate::push::rollback::run(&open_at(&cli.workspace, target)?, run, json)
        }
        Command::Plan { apply, target } => {
            plan::run(&open_at(&cli.workspace, target)?, apply, json)
        }
        Command::Verify { target } => verify::run(&open_at(&cli.workspace, target)?, json),
        Command::Reconcile { target } => reconcile::run(&open_at(&cli.workspace, target)?, json),
        Command::Run { target } => run::run(&open_at(&cli.workspace, target)?, json),
        Command::Validate => validate::run(&Workspace::open(&cli.workspace)?, json),
        Command::Sql { query, format } => {
            sql::run(&Workspace::open(&cli.workspace)?, query, format)
        }
        Command::Demo {
            dir,
            customers,
            seed,
        } => demo::run(&dir, customers, seed, json),
        Command::Serve {
            target:
                ServeTarget::Servicetracker {
                    data,
                    addr,
                    api_key,
                    rate_limit,
                    throttle_fraction,
                    retry_after,
                    daily_budget,
                    malformed_page,
                    seed,
                },
        } => serve::run_servicetracker(serve::ServiceTrackerArgs {
            data,
            addr,
            api_key,
            rate_limit,
            throttle_fraction,
            retry_after,
            daily_budget,
            malformed_pages: malformed_page,
            seed,
        }),
        Command::Serve {
            target:
                ServeTarget::Dataverse {
                    addr,
                    state,
                    limits,
                    faults,
                    metadata,
                    prefix,
                    client_secret,
                    users_from,
                    max_upload_bytes,
                },
        } => serve::run_dataverse(serve::DataverseArgs {
            addr,
            state,
            limits,
            faults,
            metadata,
            prefix,
            client_secret,
            max_upload_bytes,
            users_from,
        }),
        Command::Report { name } => report::run(&Workspace::open(&cli.workspace)?, &name, json),
    }
}
