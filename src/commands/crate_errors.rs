//! The member crates' errors (the two emulators and the generator) as
//! ferry's: the same message and the same exit code — bad input and usage
//! stay 2, a server that stopped failing is 3. This lives in `commands`, not
//! in `error`, because only `commands` and `cli` may name the member crates
//! (ARCHITECTURE.md); `serve`, `generate` and `demo` convert through it.

use crate::error::Error;

/// Each member crate keeps ferry's error shape on purpose (`Usage`,
/// `Input`, `Io`, and for the emulators `Serve`, a failure while serving),
/// so one conversion serves them all.
macro_rules! from_member_crate {
    ($krate:ident $(, $serve:ident)?) => {
        impl From<$krate::Error> for Error {
            fn from(error: $krate::Error) -> Self {
                match error {
                    $krate::Error::Usage(message) => Error::Usage(message),
                    $krate::Error::Input {
                        path,
                        message,
                        what_to_do,
                    } => Error::Input {
                        path,
                        message,
                        what_to_do,
                    },
                    $krate::Error::Io { path, source } => Error::Io { path, source },
                    $($krate::Error::$serve(message) => Error::Remote(message),)?
                }
            }
        }
    };
}

from_member_crate!(dataverse_emulator, Serve);
from_member_crate!(servicetracker_emulator, Serve);
from_member_crate!(servicetracker_generator);
