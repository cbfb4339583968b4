//! tracker's built-in rule pack: the CIS AWS Foundations Benchmark monitoring
//! controls written as Sigma rules (`runtime/rules/cis/*.yml`), embedded in
//! the binary so a deployed function and `tracker serve` need no files.

/// `(file name, YAML text)` of every built-in rule, in load order.
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "cis_4_01_unauthorized_api_calls.yml",
        include_str!("../../../rules/cis/cis_4_01_unauthorized_api_calls.yml"),
    ),
    (
        "cis_4_02_console_login_without_mfa.yml",
        include_str!("../../../rules/cis/cis_4_02_console_login_without_mfa.yml"),
    ),
    (
        "cis_4_03_root_account_usage.yml",
        include_str!("../../../rules/cis/cis_4_03_root_account_usage.yml"),
    ),
    (
        "cis_4_04_iam_policy_changes.yml",
        include_str!("../../../rules/cis/cis_4_04_iam_policy_changes.yml"),
    ),
    (
        "cis_4_05_cloudtrail_config_changes.yml",
        include_str!("../../../rules/cis/cis_4_05_cloudtrail_config_changes.yml"),
    ),
    (
        "cis_4_06_console_authentication_failures.yml",
        include_str!("../../../rules/cis/cis_4_06_console_authentication_failures.yml"),
    ),
    (
        "cis_4_07_kms_key_disabled_or_scheduled_deletion.yml",
        include_str!("../../../rules/cis/cis_4_07_kms_key_disabled_or_scheduled_deletion.yml"),
    ),
    (
        "cis_4_08_s3_bucket_policy_changes.yml",
        include_str!("../../../rules/cis/cis_4_08_s3_bucket_policy_changes.yml"),
    ),
    (
        "cis_4_09_aws_config_changes.yml",
        include_str!("../../../rules/cis/cis_4_09_aws_config_changes.yml"),
    ),
    (
        "cis_4_10_security_group_changes.yml",
        include_str!("../../../rules/cis/cis_4_10_security_group_changes.yml"),
    ),
    (
        "cis_4_11_nacl_changes.yml",
        include_str!("../../../rules/cis/cis_4_11_nacl_changes.yml"),
    ),
    (
        "cis_4_12_network_gateway_changes.yml",
        include_str!("../../../rules/cis/cis_4_12_network_gateway_changes.yml"),
    ),
    (
        "cis_4_13_route_table_changes.yml",
        include_str!("../../../rules/cis/cis_4_13_route_table_changes.yml"),
    ),
    (
        "cis_4_14_vpc_changes.yml",
        include_str!("../../../rules/cis/cis_4_14_vpc_changes.yml"),
    ),
    (
        "cis_4_15_organizations_changes.yml",
        include_str!("../../../rules/cis/cis_4_15_organizations_changes.yml"),
    ),
];
