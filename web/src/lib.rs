//! Shared HTTP plumbing for the idp and the portal: the template engine with Japanese and
//! English text, CSRF protection, security headers, the three error types, the operational
//! endpoints (`/healthz`, `/readyz`, `/metrics`) and serving with graceful shutdown.

pub mod assets;
pub mod client_ip;
pub mod cookies;
pub mod csrf;
pub mod errors;
pub mod headers;
pub mod i18n;
pub mod metrics;
pub mod ops;
pub mod serve;
pub mod service;
pub mod site;
pub mod surface;
pub mod templates;

pub use client_ip::client_ip;
pub use errors::{ApiError, OAuthError, OAuthErrorCode, OAuthForm, PageError};
pub use i18n::Lang;
pub use site::Site;
pub use templates::Templates;
