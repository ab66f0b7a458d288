//! The Latch IAM policy engine: parse, compile and evaluate AWS authorization.
//!
//! **Architecture invariant:** this crate does no IO and never reads the clock; time comes in
//! as context keys (`aws:CurrentTime`, `aws:EpochTime`).

pub mod arn;
pub mod compile;
pub mod condition;
pub mod context;
pub mod document;
pub mod eval;
pub mod glob;
pub mod protected;
pub mod request;
pub mod template;
pub mod values;

pub use compile::Layer;
pub use document::{ParseError, Policy};
pub use eval::{Decision, Evaluation, PolicySet, RcpServices, Unevaluable};
pub use request::Request;
pub mod case;
