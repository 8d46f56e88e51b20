//! The HTTP handlers of both dialects: Cirqll's resources ([`cirqll`]) and ManageIt's customers
//! and custom fields ([`manageit`]).

pub mod cirqll;
pub mod files;
pub mod manageit;
