//! `ferry reconcile`: being built for issue 8.

use crate::error::{Error, Result};
use crate::workspace::Workspace;
use crate::Outcome;

pub fn run(_ws: &Workspace, _json: bool) -> Result<Outcome> {
    Err(Error::Usage(
        "`ferry reconcile` is being built (issue 8)".into(),
    ))
}
