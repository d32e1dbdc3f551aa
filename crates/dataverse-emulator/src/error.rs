//! Dataverse's error responses: an HTTP status plus
//! `{"error":{"code":"0x…","message":"…"}}`, with the codes the real Web API
//! uses, so a client's error handling is exercised against the real shapes.
//!
//! Codes are from Microsoft's "Web service error codes" reference
//! (learn.microsoft.com/power-apps/developer/data-platform/reference/web-service-error-codes)
//! and "Troubleshoot Dataverse Web API client errors"; each constant names
//! the Dataverse error it stands for.

use serde_json::{json, Value};

/// `ObjectDoesNotExist`: "{table} With Id = {id} Does Not Exist" (404).
pub const OBJECT_DOES_NOT_EXIST: &str = "0x80040217";
/// `DuplicateRecord`: "A record with matching key values already exists." /
/// "Cannot insert duplicate key" (412 on create-only, 400 in bulk).
pub const DUPLICATE_RECORD: &str = "0x80040237";
/// Resource not found for the segment (unknown entity set, function or action).
pub const RESOURCE_NOT_FOUND: &str = "0x8006088a";
/// OData URL or body the service cannot parse: bad `$filter`, unknown
/// property, malformed JSON.
pub const BAD_REQUEST: &str = "0x80060888";
/// A value is outside what the column accepts (length, range, option).
pub const VALIDATION_ERROR: &str = "0x80044331";
/// A required column is missing.
pub const REQUIRED_MISSING: &str = "0x80040200";
/// Attachment larger than the org's `maxuploadfilesize`.
pub const ATTACHMENT_TOO_LARGE: &str = "0x80044a02";
/// The owner (or the caller) is a disabled user.
pub const USER_DISABLED: &str = "0x80040225";
/// Bearer token missing, expired or invalid (401).
pub const UNAUTHORIZED: &str = "0x80048306";
/// Service protection: number of requests exceeded (429).
pub const THROTTLE_REQUESTS: &str = "0x80072322";
/// Service protection: combined execution time exceeded (429).
pub const THROTTLE_TIME: &str = "0x80072321";
/// Service protection: concurrent requests exceeded (429).
pub const THROTTLE_CONCURRENCY: &str = "0x80072326";
/// The server is unavailable (injected 503).
pub const SERVICE_UNAVAILABLE: &str = "0x80040216";

/// An error response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DvError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl DvError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        DvError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        DvError::new(400, BAD_REQUEST, message)
    }

    pub fn validation(message: impl Into<String>) -> Self {
        DvError::new(400, VALIDATION_ERROR, message)
    }

    pub fn not_found(table: &str, id: impl std::fmt::Display) -> Self {
        DvError::new(
            404,
            OBJECT_DOES_NOT_EXIST,
            format!("{table} With Id = {id} Does Not Exist"),
        )
    }

    pub fn no_segment(segment: &str) -> Self {
        DvError::new(
            404,
            RESOURCE_NOT_FOUND,
            format!("Resource not found for the segment '{segment}'."),
        )
    }

    /// The JSON body Dataverse sends.
    pub fn body(&self) -> Value {
        json!({ "error": { "code": self.code, "message": self.message } })
    }
}

impl std::fmt::Display for DvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.message)
    }
}

impl std::error::Error for DvError {}

// Added for store.rs. Names, codes and messages are from Microsoft's "Web
// service error codes" list (powerapps-docs
// developer/data-platform/includes/data-service-error-codes.md) unless a
// line says otherwise. Two of them share a value with a constant above:
// that list names 0x8004431A PicklistValueOutOfRange and 0x80048408
// InvalidStateCodeStatusCode, so the store uses the names below for those.

/// `PicklistValueOutOfRange` (0x8004431A): "The picklist value is out of
/// the range." An option value the column does not have.
pub const PICKLIST_VALUE_OUT_OF_RANGE: &str = "0x8004431a";
/// `InvalidStateCodeStatusCode` (0x80048408): "State code is invalid or
/// state code is valid but status code is invalid for a specified state
/// code."
pub const STATE_STATUS_MISMATCH: &str = "0x80048408";
/// `unManagedidsxmlinvalidcreate` (0x80041a01): "A field that is not valid
/// for create was specified".
pub const NOT_VALID_FOR_CREATE: &str = "0x80041a01";
/// `unManagedidsxmlinvalidupdate` (0x80041a02): "A field that is not valid
/// for update was specified".
pub const NOT_VALID_FOR_UPDATE: &str = "0x80041a02";
/// `DuplicateRecordEntityKey` (0x80060892): "Entity Key {0} violated. A
/// record with the same value for {1} already exists. ..."
pub const DUPLICATE_KEY_VALUE: &str = "0x80060892";
/// `IntegerValueOutOfRange` (0x8004432F): "A validation error occurred. An
/// integer provided is outside of the allowed values for this attribute."
pub const INTEGER_OUT_OF_RANGE: &str = "0x8004432f";
/// `DecimalValueOutOfRange` (0x80044330): "A validation error occurred. A
/// decimal value provided is outside of the allowed values for this
/// attribute."
pub const DECIMAL_OUT_OF_RANGE: &str = "0x80044330";
/// `InvalidDateTime` (0x80040239): "The date-time format is invalid, or
/// value is outside the supported range."
pub const INVALID_DATE_TIME: &str = "0x80040239";
/// `InvalidArgument` (0x80040203): "Invalid argument."
pub const INVALID_ARGUMENT: &str = "0x80040203";
/// `unManagedidsincidentparentaccountandparentcontactnotpresent`
/// (0x80044410): "You should specify a parent contact or account."
pub const INCIDENT_CUSTOMER_MISSING: &str = "0x80044410";
/// `unManagedidsincidentinvalidstate` (0x80044404): "Incident state is
/// invalid."
pub const INCIDENT_INVALID_STATE: &str = "0x80044404";
/// `unManagedidscontractaccountmissing` (0x80043201): "Account is required
/// to save a contract."
pub const CONTRACT_CUSTOMER_MISSING: &str = "0x80043201";
/// `BaseUomNameNotSpecified` (0x80043810): "baseuomname not specified".
pub const BASE_UOM_NAME_MISSING: &str = "0x80043810";
