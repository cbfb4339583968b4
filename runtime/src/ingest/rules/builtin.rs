//! tracker's built-in rule pack: the CIS AWS Foundations Benchmark monitoring
//! controls written as Sigma rules (`runtime/rules/cis/*.yml`), embedded in
//! the binary so a deployed function and `tracker serve` need no files.

/// `(file name, YAML text)` of every built-in rule, in load order.
pub const BUILTIN: &[(&str, &str)] = &[];
