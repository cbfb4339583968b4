//! The attributes of an event that lookups filter on and statistics count
//! by: one name each (as the API spells it), and how to read an event's
//! values of it. Most are single-valued; `resourceName` and `resourceType`
//! hold every entry of the record's `resources[]`. An absent value (missing,
//! `null` or an empty string in the record) is no value at all. A [`Term`]
//! is what a lookup asks of one attribute.

use crate::event::EventItem;

/// An attribute of a stored event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Attribute {
    /// The principal rule's answer (`userIdentity_userName`).
    Principal,
    /// The short service name (`ec2`).
    Service,
    EventName,
    /// The full event source (`ec2.amazonaws.com`).
    EventSource,
    ErrorCode,
    SourceIpAddress,
    /// `userIdentity.accessKeyId`.
    AccessKeyId,
    /// `awsRegion`.
    Region,
    /// `recipientAccountId`, else `userIdentity.accountId`.
    Account,
    /// `true` or `false`.
    ReadOnly,
    /// An entry of `resources[].ARN`.
    ResourceName,
    /// An entry of `resources[].type`.
    ResourceType,
    /// The role session name of an assumed role.
    SessionName,
}

impl Attribute {
    /// Every attribute, in a fixed order (their index in [`Attribute::index`]).
    pub const ALL: [Attribute; 13] = [
        Attribute::Principal,
        Attribute::Service,
        Attribute::EventName,
        Attribute::EventSource,
        Attribute::ErrorCode,
        Attribute::SourceIpAddress,
        Attribute::AccessKeyId,
        Attribute::Region,
        Attribute::Account,
        Attribute::ReadOnly,
        Attribute::ResourceName,
        Attribute::ResourceType,
        Attribute::SessionName,
    ];

    /// The attributes statistics group by (`/stats?by=`).
    pub const STATS_KEYS: [Attribute; 8] = [
        Attribute::Principal,
        Attribute::Service,
        Attribute::EventName,
        Attribute::ErrorCode,
        Attribute::SourceIpAddress,
        Attribute::AccessKeyId,
        Attribute::Region,
        Attribute::Account,
    ];

    /// The name the API uses (a query parameter, or a `by` key).
    pub fn name(self) -> &'static str {
        match self {
            Attribute::Principal => "principal",
            Attribute::Service => "service",
            Attribute::EventName => "eventName",
            Attribute::EventSource => "eventSource",
            Attribute::ErrorCode => "errorCode",
            Attribute::SourceIpAddress => "sourceIPAddress",
            Attribute::AccessKeyId => "accessKeyId",
            Attribute::Region => "region",
            Attribute::Account => "account",
            Attribute::ReadOnly => "readOnly",
            Attribute::ResourceName => "resourceName",
            Attribute::ResourceType => "resourceType",
            Attribute::SessionName => "sessionName",
        }
    }

    /// A short, stable tag for keys (never changes once shipped).
    pub fn tag(self) -> &'static str {
        match self {
            Attribute::Principal => "u",
            Attribute::Service => "svc",
            Attribute::EventName => "n",
            Attribute::EventSource => "src",
            Attribute::ErrorCode => "err",
            Attribute::SourceIpAddress => "ip",
            Attribute::AccessKeyId => "ak",
            Attribute::Region => "r",
            Attribute::Account => "acct",
            Attribute::ReadOnly => "ro",
            Attribute::ResourceName => "rn",
            Attribute::ResourceType => "rt",
            Attribute::SessionName => "sess",
        }
    }

    /// The attribute the API calls `name`.
    pub fn from_name(name: &str) -> Option<Attribute> {
        Attribute::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The position of this attribute in [`Attribute::ALL`].
    pub fn index(self) -> usize {
        Attribute::ALL
            .iter()
            .position(|a| *a == self)
            .unwrap_or_default()
    }

    /// Whether an event may hold several values of it.
    pub fn is_multi_valued(self) -> bool {
        matches!(self, Attribute::ResourceName | Attribute::ResourceType)
    }

    /// The event's values of this attribute (none, one, or several).
    pub fn values(self, event: &EventItem) -> Values<'_> {
        fn one(v: &Option<String>) -> Option<&str> {
            v.as_deref().filter(|s| !s.is_empty())
        }
        match self {
            Attribute::Principal => Values::One(Some(&event.principal)),
            Attribute::Service => Values::One(Some(&event.service)),
            Attribute::EventName => Values::One(one(&event.event_name)),
            Attribute::EventSource => Values::One(one(&event.event_source)),
            Attribute::ErrorCode => Values::One(one(&event.error_code)),
            Attribute::SourceIpAddress => Values::One(one(&event.source_ip)),
            Attribute::AccessKeyId => Values::One(one(&event.access_key_id)),
            Attribute::Region => Values::One(one(&event.aws_region)),
            Attribute::Account => Values::One(one(&event.account)),
            Attribute::ReadOnly => {
                Values::One(event.read_only.map(|b| if b { "true" } else { "false" }))
            }
            Attribute::ResourceName => Values::Many(&event.resource_names),
            Attribute::ResourceType => Values::Many(&event.resource_types),
            Attribute::SessionName => Values::One(one(&event.session_name)),
        }
    }
}

/// What a term asks of an attribute.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Wanted {
    /// One of these values (exact).
    AnyOf(Vec<String>),
    /// Any value at all (`errorCode=*`: the call failed).
    Present,
}

/// One lookup term: an attribute and what it must hold.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Term {
    pub attribute: Attribute,
    pub wanted: Wanted,
}

impl Term {
    pub fn equals(attribute: Attribute, value: impl Into<String>) -> Term {
        Term {
            attribute,
            wanted: Wanted::AnyOf(vec![value.into()]),
        }
    }

    /// Whether one value of the attribute satisfies the term.
    pub fn accepts(&self, value: &str) -> bool {
        match &self.wanted {
            Wanted::Present => !value.is_empty(),
            Wanted::AnyOf(values) => values.iter().any(|v| v == value),
        }
    }

    pub fn matches(&self, event: &EventItem) -> bool {
        self.attribute.values(event).iter().any(|v| self.accepts(v))
    }
}

impl std::fmt::Display for Attribute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// An event's values of one attribute.
#[derive(Debug, Clone)]
pub enum Values<'a> {
    One(Option<&'a str>),
    Many(&'a [String]),
}

impl<'a> Values<'a> {
    /// Each value once.
    pub fn iter(&self) -> impl Iterator<Item = &'a str> + '_ {
        let (one, many) = match self {
            Values::One(v) => (*v, &[][..]),
            Values::Many(list) => (None, *list),
        };
        one.into_iter()
            .chain(many.iter().map(String::as_str).filter(|s| !s.is_empty()))
    }

    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }

    pub fn contains(&self, wanted: &str) -> bool {
        self.iter().any(|v| v == wanted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_tags_and_indexes_are_distinct_and_round_trip() {
        let mut names = std::collections::HashSet::new();
        let mut tags = std::collections::HashSet::new();
        for (i, attribute) in Attribute::ALL.into_iter().enumerate() {
            assert!(names.insert(attribute.name()));
            assert!(tags.insert(attribute.tag()));
            assert_eq!(Attribute::from_name(attribute.name()), Some(attribute));
            assert_eq!(attribute.index(), i);
        }
        assert_eq!(Attribute::from_name("nope"), None);
    }

    #[test]
    fn reads_values_with_empty_as_absent() {
        let text = serde_json::json!({
            "eventID": "e", "eventName": "", "errorCode": "AccessDenied", "readOnly": true,
            "resources": [{"ARN": "a2", "type": "T"}, {"ARN": "a1", "type": "T"}],
            "userIdentity": {"userName": "bob"}
        })
        .to_string();
        let event = crate::event::event_from_json(text);
        assert!(Attribute::EventName.values(&event).is_empty());
        assert!(Attribute::ErrorCode.values(&event).contains("AccessDenied"));
        assert!(Attribute::ReadOnly.values(&event).contains("true"));
        assert_eq!(
            Attribute::ResourceName
                .values(&event)
                .iter()
                .collect::<Vec<_>>(),
            ["a1", "a2"]
        );
        assert!(Attribute::Principal.values(&event).contains("bob"));
    }
}
