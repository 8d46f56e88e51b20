//! The extractors handlers read their input with, each rejecting with the crate's [`Error`]:
//! the route's resource, the record id, the `Idempotency-Key` and a JSON or form body.

use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use serde_json::{Map, Value as Json};

use super::body::json_body;
use crate::error::Error;
use crate::ledger::idempotency;
use crate::registry::ResourceDef;
use crate::state::AppState;

/// The resource a route serves, set on its routes by the route table
/// (`.route_layer(RouteResource::layer(def))`).
#[derive(Debug, Clone, Copy)]
pub struct RouteResource(pub &'static ResourceDef);

impl RouteResource {
    /// The layer that tells a route's handlers which resource it serves.
    pub fn layer(def: &'static ResourceDef) -> axum::Extension<RouteResource> {
        axum::Extension(RouteResource(def))
    }

    pub fn of(parts: &Parts) -> Result<RouteResource, Error> {
        parts
            .extensions
            .get::<RouteResource>()
            .copied()
            .ok_or_else(|| Error::Internal(format!("no resource on route {}", parts.uri.path())))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RouteResource {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Error> {
        RouteResource::of(parts)
    }
}

/// The `{id}` segment of a record's route. Ids are positive integers; anything else cannot
/// name a record, so it is a 404 like any unknown id.
#[derive(Debug, Clone, Copy)]
pub struct RecordId(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for RecordId {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        let RouteResource(def) = RouteResource::of(parts)?;
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|e| Error::Internal(format!("path parameters: {e}")))?;
        let raw = params
            .iter()
            .find(|(name, _)| *name == "id")
            .map(|(_, value)| value)
            .unwrap_or("");
        parse_id(raw).map(RecordId).ok_or_else(|| Error::NotFound {
            resource: def.name,
            id: kring_core::query::truncate(raw, 40),
        })
    }
}

/// A record id as a path names it: a positive integer.
pub fn parse_id(raw: &str) -> Option<i64> {
    raw.parse::<i64>().ok().filter(|id| *id > 0)
}

/// The request's `Idempotency-Key`, if it sent one (400 when it is not 1 to 255 visible ASCII
/// characters).
#[derive(Debug, Clone, Default)]
pub struct IdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Error> {
        idempotency::key_of(&parts.headers).map(IdempotencyKey)
    }
}

/// A JSON object body, or a form body in PHP's bracket notation, up to the configured limit
/// (see [`json_body`]).
#[derive(Debug, Clone, Default)]
pub struct JsonBody(pub Map<String, Json>);

impl FromRequest<AppState> for JsonBody {
    type Rejection = Error;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Error> {
        json_body(request, state.config.body_limit)
            .await
            .map(JsonBody)
    }
}
