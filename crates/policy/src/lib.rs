//! AWS IAM policy engine.
