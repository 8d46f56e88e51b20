//! HTTP plumbing below the handlers: bodies, responses and the middleware around every route.

pub mod body;
pub mod extract;
pub mod listener;
pub mod middleware;
pub mod query;
pub mod response;
pub mod unit_of_work;

pub use body::{DRAIN_CAP, drain, json_body, parse_json_object, read_limited};
pub use response::{json_response, method_not_allowed, public_base};
