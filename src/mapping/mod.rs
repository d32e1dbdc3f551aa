//! Mapping the source onto the target before anything is pushed: the
//! proposal `ferry map propose` derives from the staged fields and the
//! target's schema (with the knowledge it scores by), and the analyst's
//! sign-off that push requires. The mapping files themselves
//! (`mapping/*.csv`) are read by [`crate::transform::mapping_files`], below
//! the transform that applies them.

pub mod propose;
pub mod signoff;
pub mod synonyms;
