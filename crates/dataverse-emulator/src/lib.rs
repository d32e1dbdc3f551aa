//! A local Dataverse Web API (being moved here from `ferry::serve::dataverse`).
