//! Read-back and field-level diff (`ferry verify`): being built for issue 8.
