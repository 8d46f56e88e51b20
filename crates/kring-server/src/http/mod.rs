//! HTTP plumbing below the handlers: bodies, responses and the middleware around every route.

pub mod body;
pub mod extract;
pub mod listener;
pub mod middleware;
#[cfg(test)]
mod proptests;
pub mod query;
pub mod response;
pub mod served;
pub mod unit_of_work;

pub use body::{
    drain, expects_continue, json_body, linger, parse_json_object, read_limited, refuse_unread,
};
pub use response::{answering, json_response, method_not_allowed, public_base};
pub use served::Served;
