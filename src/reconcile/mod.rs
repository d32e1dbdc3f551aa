//! Counts through every stage, conservation and distributions (`ferry reconcile`): being built for issue 8.
