//! A local ServiceTracker REST API (being moved here from `ferry::serve::servicetracker`).
