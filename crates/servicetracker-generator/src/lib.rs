//! Synthetic ServiceTracker exports (being moved here from `ferry::generate`).
