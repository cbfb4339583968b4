//! The fields of a CloudTrail record that tracker reads, taken in one pass
//! over the record's text. Strings without escapes are borrowed from the
//! text; everything else in the record is skipped without being built.
//! Lenient by design: a field of the wrong type counts as absent.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::record::NO_PRINCIPAL;

/// What tracker reads of one record.
#[derive(Debug, Default)]
pub struct Fields<'a> {
    pub event_id: Option<Cow<'a, str>>,
    pub event_name: Option<Cow<'a, str>>,
    pub event_source: Option<Cow<'a, str>>,
    pub event_time: Option<Cow<'a, str>>,
    pub aws_region: Option<Cow<'a, str>>,
    pub recipient_account_id: Option<Cow<'a, str>>,
    pub error_code: Option<Cow<'a, str>>,
    pub source_ip: Option<Cow<'a, str>>,
    /// `readOnly`: a JSON boolean (or the strings `true`/`false`).
    pub read_only: Option<bool>,
    /// `resources[]`: each entry's `ARN` (any case of the key) and `type`.
    pub resources: Vec<Resource<'a>>,
    pub identity: Identity<'a>,
    pub insight: Insight<'a>,
    /// The raw text of the sections that may hold secrets
    /// (`requestParameters`, `responseElements`, `additionalEventData`).
    pub secret_sections: Vec<&'a RawValue>,
    /// Whether `eventName` or `eventSource` held something other than a
    /// non-empty string or `null` (see [`Fields::top_level_event_keys`]).
    odd_event_keys: bool,
    /// The top-level field names, then `requestParameters.<key>` for each
    /// request parameter (see [`Fields::take_param_names`]).
    top_level_names: Vec<String>,
    request_parameter_names: Vec<String>,
}

/// `userIdentity`, as far as the principal rule needs it.
#[derive(Debug, Default)]
pub struct Identity<'a> {
    pub kind: Option<Cow<'a, str>>,
    pub user_name: Option<Cow<'a, str>>,
    pub arn: Option<Cow<'a, str>>,
    pub principal_id: Option<Cow<'a, str>>,
    pub invoked_by: Option<Cow<'a, str>>,
    pub account_id: Option<Cow<'a, str>>,
    pub access_key_id: Option<Cow<'a, str>>,
    /// `sessionContext.sessionIssuer.userName`.
    pub issuer_user_name: Option<Cow<'a, str>>,
    /// `sessionContext.sourceIdentity`: the person behind a role, when set.
    pub source_identity: Option<Cow<'a, str>>,
}

/// One entry of `resources[]`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Resource<'a> {
    pub arn: Option<Cow<'a, str>>,
    pub kind: Option<Cow<'a, str>>,
}

/// `insightDetails` of CloudTrail Insights events.
#[derive(Debug, Default)]
pub struct Insight<'a> {
    pub event_name: Option<Cow<'a, str>>,
    pub event_source: Option<Cow<'a, str>>,
}

/// Why a record's fields could not be read.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadError {
    NotAnObject,
    /// Well-formed on the surface, but not text serde_json can read whole
    /// (a number out of range, a lone UTF-16 surrogate): such a record could
    /// be neither redacted nor filtered later, so it is not stored.
    Unreadable(String),
}

/// Reads the fields of one record. Every value is checked as it is skipped
/// (numbers in range, escapes valid), so what is stored always reads back.
pub fn read(text: &str) -> Result<Fields<'_>, ReadError> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let Lenient(fields, is_object) = Lenient::<Fields>::deserialize(&mut deserializer)
        .map_err(|e| ReadError::Unreadable(e.to_string()))?;
    deserializer
        .end()
        .map_err(|e| ReadError::Unreadable(e.to_string()))?;
    if !is_object {
        return Err(ReadError::NotAnObject);
    }
    Ok(fields)
}

impl<'a> Fields<'a> {
    /// Names usable in `param`: the top-level field names, then
    /// `requestParameters.<key>` for each request parameter, each once.
    /// Moved out, not copied (a record's ~15 names were cloned for every
    /// event); a second call returns none.
    pub fn take_param_names(&mut self) -> Vec<String> {
        let mut names = std::mem::take(&mut self.top_level_names);
        for name in std::mem::take(&mut self.request_parameter_names) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names
    }

    /// `eventName`, else `insightDetails.eventName`.
    pub fn event_name(&self) -> Option<&str> {
        self.event_name
            .as_deref()
            .or(self.insight.event_name.as_deref())
    }

    /// `eventSource`, else `insightDetails.eventSource`.
    pub fn event_source(&self) -> Option<&str> {
        self.event_source
            .as_deref()
            .or(self.insight.event_source.as_deref())
    }

    /// Whether [`Fields::event_name`] and [`Fields::event_source`] are
    /// exactly the record's top-level `eventName` and `eventSource`: each a
    /// non-empty string, or absent or `null` (not taken from
    /// `insightDetails`, and nothing else written there).
    pub fn top_level_event_keys(&self) -> bool {
        !self.odd_event_keys
            && (self.event_name.is_some() || self.insight.event_name.is_none())
            && (self.event_source.is_some() || self.insight.event_source.is_none())
    }

    /// `recipientAccountId`, else `userIdentity.accountId`.
    pub fn account(&self) -> Option<&str> {
        self.recipient_account_id
            .as_deref()
            .or(self.identity.account_id.as_deref())
    }

    /// The principal ("user") of a record, exactly as the spec says:
    /// `userIdentity.userName` if non-empty; else, for `AssumedRole`,
    /// `sessionContext.sessionIssuer.userName`; else `arn`; else
    /// `principalId`; else `invokedBy`; else `(none)`.
    pub fn principal(&self) -> &str {
        let identity = &self.identity;
        identity
            .user_name
            .as_deref()
            .or_else(|| {
                identity
                    .issuer_user_name
                    .as_deref()
                    .filter(|_| self.is_assumed_role())
            })
            .or(identity.arn.as_deref())
            .or(identity.principal_id.as_deref())
            .or(identity.invoked_by.as_deref())
            .unwrap_or(NO_PRINCIPAL)
    }

    /// The role session name of an `AssumedRole` identity: the last segment
    /// of `arn` (`…:assumed-role/ROLE/SESSION`), else what follows `:` in
    /// `principalId`.
    pub fn session_name(&self) -> Option<&str> {
        if !self.is_assumed_role() {
            return None;
        }
        let identity = &self.identity;
        let from_arn = identity
            .arn
            .as_deref()
            .filter(|arn| arn.contains(":assumed-role/"))
            .and_then(|arn| arn.rsplit('/').next());
        from_arn
            .or_else(|| {
                identity
                    .principal_id
                    .as_deref()
                    .and_then(|p| p.split_once(':').map(|(_, s)| s))
            })
            .filter(|s| !s.is_empty())
    }

    fn is_assumed_role(&self) -> bool {
        self.identity.kind.as_deref() == Some("AssumedRole")
    }
}

/// An object whose fields are read one by one; any other JSON value reads as
/// the default (nothing present).
trait ObjectFields<'de>: Default {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error>;
}

/// Reads `T` from an object, or its default from anything else; the flag
/// says whether it was an object.
struct Lenient<T>(T, bool);

impl<'de, T: ObjectFields<'de>> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LenientVisitor(PhantomData))
    }
}

struct LenientVisitor<T>(PhantomData<T>);

/// Visitor methods for numbers, booleans and null: each reads as `$absent`.
macro_rules! absent_scalars {
    ($absent:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($absent)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($absent)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($absent)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($absent)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($absent)
        }
    };
}

/// Visitor methods for every non-object value but strings: each reads as `$absent`.
macro_rules! absent_unless_object {
    ($absent:expr) => {
        absent_scalars!($absent);
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<Checked>()?.is_some() {}
            Ok($absent)
        }
    };
}

impl<'de, T: ObjectFields<'de>> Visitor<'de> for LenientVisitor<T> {
    type Value = Lenient<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    absent_unless_object!(Lenient(T::default(), false));

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Lenient(T::default(), false))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut value = T::default();
        while let Some(Key(key)) = map.next_key()? {
            value.field(&key, &mut map)?;
        }
        Ok(Lenient(value, true))
    }
}

/// A string value, borrowed when it holds no escapes; empty strings and
/// values of other types read as absent. `plain` says whether the value was
/// a non-empty string or `null` (what absent means to a reader of the JSON).
struct Text<'a> {
    value: Option<Cow<'a, str>>,
    plain: bool,
}

impl<'a> Text<'a> {
    const ODD: Text<'static> = Text {
        value: None,
        plain: false,
    };

    fn of(value: Cow<'a, str>) -> Text<'a> {
        if value.is_empty() {
            Text::ODD
        } else {
            Text {
                value: Some(value),
                plain: true,
            }
        }
    }
}

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }

            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Text::ODD)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Text::ODD)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Text::ODD)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Text::ODD)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Text {
                    value: None,
                    plain: true,
                })
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<Checked>()?.is_some() {}
                Ok(Text::ODD)
            }

            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text::of(Cow::Borrowed(v)))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text::of(Cow::Owned(v.to_owned())))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<Key, Checked>()?.is_some() {}
                Ok(Text::ODD)
            }
        }
        deserializer.deserialize_any(TextVisitor)
    }
}

/// An object key, borrowed when it holds no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object key")
            }

            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

fn text<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Option<Cow<'de, str>>, A::Error> {
    Ok(map.next_value::<Text<'de>>()?.value)
}

/// Like [`text`], noting in `odd` a value that was neither a non-empty
/// string nor `null`.
fn noted_text<'de, A: MapAccess<'de>>(
    map: &mut A,
    odd: &mut bool,
) -> Result<Option<Cow<'de, str>>, A::Error> {
    let Text { value, plain } = map.next_value::<Text<'de>>()?;
    *odd |= !plain;
    Ok(value)
}

fn object<'de, T: ObjectFields<'de>, A: MapAccess<'de>>(map: &mut A) -> Result<T, A::Error> {
    Ok(map.next_value::<Lenient<T>>()?.0)
}

fn skip<'de, A: MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
    map.next_value::<Checked>().map(|_| ())
}

/// Any JSON value, read to check it and thrown away. Unlike `IgnoredAny`
/// (which serde_json skips without looking), numbers must be in range and
/// strings must decode, as they must for the record to be read back later.
struct Checked;

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CheckedVisitor;
        impl<'de> Visitor<'de> for CheckedVisitor {
            type Value = Checked;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }

            absent_unless_object!(Checked);

            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Checked)
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<Key, Checked>()?.is_some() {}
                Ok(Checked)
            }
        }
        deserializer.deserialize_any(CheckedVisitor)
    }
}

/// A section kept as raw text, checked like [`Checked`].
fn checked_raw<'de, A: MapAccess<'de>>(map: &mut A) -> Result<&'de RawValue, A::Error> {
    let raw: &'de RawValue = map.next_value()?;
    serde_json::from_str::<Checked>(raw.get()).map_err(de::Error::custom)?;
    Ok(raw)
}

impl<'de> ObjectFields<'de> for Fields<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        // A repeated key counts once; its last value wins, as in a JSON map.
        if !self.top_level_names.iter().any(|name| name == key) {
            self.top_level_names.push(key.to_owned());
        }
        match key {
            "eventID" => self.event_id = text(map)?,
            "eventName" => self.event_name = noted_text(map, &mut self.odd_event_keys)?,
            "eventSource" => self.event_source = noted_text(map, &mut self.odd_event_keys)?,
            "eventTime" => self.event_time = text(map)?,
            "awsRegion" => self.aws_region = text(map)?,
            "recipientAccountId" => self.recipient_account_id = text(map)?,
            "errorCode" => self.error_code = text(map)?,
            "sourceIPAddress" => self.source_ip = text(map)?,
            "readOnly" => self.read_only = map.next_value::<Flag>()?.0,
            "resources" => self.resources = map.next_value::<Resources<'de>>()?.0,
            "userIdentity" => self.identity = object(map)?,
            "insightDetails" => self.insight = object(map)?,
            "requestParameters" => {
                let raw: &'de RawValue = map.next_value()?;
                self.secret_sections.push(raw);
                // Reading the keys checks the values too.
                let mut keys = serde_json::Deserializer::from_str(raw.get());
                let Lenient(RequestParameterNames(names), _) =
                    Lenient::deserialize(&mut keys).map_err(de::Error::custom)?;
                self.request_parameter_names = names;
            }
            "responseElements" | "additionalEventData" => {
                self.secret_sections.push(checked_raw(map)?);
            }
            _ => skip(map)?,
        }
        Ok(())
    }
}

impl<'de> ObjectFields<'de> for Identity<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "type" => self.kind = text(map)?,
            "userName" => self.user_name = text(map)?,
            "arn" => self.arn = text(map)?,
            "principalId" => self.principal_id = text(map)?,
            "invokedBy" => self.invoked_by = text(map)?,
            "accountId" => self.account_id = text(map)?,
            "accessKeyId" => self.access_key_id = text(map)?,
            "sessionContext" => {
                let SessionContext {
                    issuer_user_name,
                    source_identity,
                } = object(map)?;
                self.issuer_user_name = issuer_user_name;
                self.source_identity = source_identity;
            }
            _ => skip(map)?,
        }
        Ok(())
    }
}

/// `sessionContext`, reduced to `sessionIssuer.userName` and `sourceIdentity`.
#[derive(Default)]
struct SessionContext<'a> {
    issuer_user_name: Option<Cow<'a, str>>,
    source_identity: Option<Cow<'a, str>>,
}

impl<'de> ObjectFields<'de> for SessionContext<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "sessionIssuer" => {
                let SessionIssuer(user_name) = object(map)?;
                self.issuer_user_name = user_name;
            }
            "sourceIdentity" => self.source_identity = text(map)?,
            _ => skip(map)?,
        }
        Ok(())
    }
}

/// A boolean field: JSON `true`/`false`, or the strings `true`/`false` in
/// any case; anything else is absent.
struct Flag(Option<bool>);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FlagVisitor;
        impl<'de> Visitor<'de> for FlagVisitor {
            type Value = Flag;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }

            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Flag(Some(v)))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Flag(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Flag(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Flag(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Flag(None))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Flag(if v.eq_ignore_ascii_case("true") {
                    Some(true)
                } else if v.eq_ignore_ascii_case("false") {
                    Some(false)
                } else {
                    None
                }))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<Checked>()?.is_some() {}
                Ok(Flag(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<Key, Checked>()?.is_some() {}
                Ok(Flag(None))
            }
        }
        deserializer.deserialize_any(FlagVisitor)
    }
}

/// `resources`: an array of objects; anything else (or any other element)
/// contributes nothing.
struct Resources<'a>(Vec<Resource<'a>>);

impl<'de> Deserialize<'de> for Resources<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ResourcesVisitor;
        impl<'de> Visitor<'de> for ResourcesVisitor {
            type Value = Resources<'de>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }

            absent_scalars!(Resources(Vec::new()));

            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Resources(Vec::new()))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut resources = Vec::new();
                while let Some(Lenient(resource, is_object)) =
                    seq.next_element::<Lenient<Resource<'de>>>()?
                {
                    if is_object && (resource.arn.is_some() || resource.kind.is_some()) {
                        resources.push(resource);
                    }
                }
                Ok(Resources(resources))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<Key, Checked>()?.is_some() {}
                Ok(Resources(Vec::new()))
            }
        }
        deserializer.deserialize_any(ResourcesVisitor)
    }
}

impl<'de> ObjectFields<'de> for Resource<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        if key.eq_ignore_ascii_case("arn") {
            // `ARN` (as CloudTrail writes it) or `arn`: the first non-empty wins.
            let value = text(map)?;
            if self.arn.is_none() {
                self.arn = value;
            }
        } else if key == "type" {
            self.kind = text(map)?;
        } else {
            skip(map)?;
        }
        Ok(())
    }
}

/// `sessionIssuer`, reduced to `userName`.
#[derive(Default)]
struct SessionIssuer<'a>(Option<Cow<'a, str>>);

impl<'de> ObjectFields<'de> for SessionIssuer<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "userName" => self.0 = text(map)?,
            _ => skip(map)?,
        }
        Ok(())
    }
}

impl<'de> ObjectFields<'de> for Insight<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "eventName" => self.event_name = text(map)?,
            "eventSource" => self.event_source = text(map)?,
            _ => skip(map)?,
        }
        Ok(())
    }
}

/// The keys of `requestParameters`, as `requestParameters.<key>`.
#[derive(Default)]
struct RequestParameterNames(Vec<String>);

impl<'de> ObjectFields<'de> for RequestParameterNames {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        let name = format!("requestParameters.{key}");
        if !self.0.contains(&name) {
            self.0.push(name);
        }
        skip(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borrows_plain_strings_and_unescapes_others() {
        let f = read(r#"{"eventID":"a\"b","eventName":"Run","awsRegion":""}"#).unwrap();
        assert_eq!(f.event_id.as_deref(), Some("a\"b"));
        assert!(matches!(f.event_name, Some(Cow::Borrowed("Run"))));
        assert_eq!(f.aws_region, None, "an empty string is absent");
    }

    #[test]
    fn wrong_types_are_absent_and_nested_values_are_skipped() {
        let mut f = read(
            r#"{"eventID":{"x":[1,{"y":null}]},"eventName":[true,2.5,-3],"userIdentity":"x",
                "insightDetails":{"eventName":7,"eventSource":"s"},"requestParameters":[1]}"#,
        )
        .unwrap();
        assert_eq!(f.event_id, None);
        assert_eq!(f.event_name(), None);
        assert_eq!(f.event_source(), Some("s"));
        assert_eq!(f.principal(), NO_PRINCIPAL);
        assert_eq!(
            f.take_param_names(),
            [
                "eventID",
                "eventName",
                "userIdentity",
                "insightDetails",
                "requestParameters"
            ]
        );
    }

    #[test]
    fn repeated_keys_count_once_and_the_last_value_wins() {
        let mut f = read(
            r#"{"eventName":"A","eventName":"B","requestParameters":{"k":1,"k":2},
                "requestParameters":{"j":1}}"#,
        )
        .unwrap();
        assert_eq!(f.event_name(), Some("B"));
        assert_eq!(
            f.take_param_names(),
            ["eventName", "requestParameters", "requestParameters.j"]
        );
    }

    #[test]
    fn event_keys_are_top_level_only_when_plain_strings_or_absent() {
        let top = |text: &str| read(text).unwrap().top_level_event_keys();
        assert!(top(r#"{"eventName":"A","eventSource":"s"}"#));
        assert!(top(r#"{"eventName":null}"#));
        assert!(top(
            r#"{"eventName":"A","insightDetails":{"eventName":"B"}}"#
        ));
        assert!(!top(r#"{"eventName":""}"#));
        assert!(!top(r#"{"eventSource":3}"#));
        assert!(!top(r#"{"eventName":["A"]}"#));
        assert!(!top(r#"{"insightDetails":{"eventName":"B"}}"#));
        assert!(!top(
            r#"{"eventName":"A","insightDetails":{"eventSource":"s"}}"#
        ));
    }

    #[test]
    fn only_objects_are_records() {
        for text in ["[1]", "\"x\"", "3", "null"] {
            assert_eq!(read(text).err(), Some(ReadError::NotAnObject), "{text}");
        }
        for text in ["{", "{} {}"] {
            assert!(
                matches!(read(text), Err(ReadError::Unreadable(_))),
                "{text}"
            );
        }
    }

    #[test]
    fn values_that_would_not_read_back_make_the_record_unreadable() {
        // Found by fuzzing: serde_json skips these without looking, but
        // cannot read them into a value (to redact, or to filter on).
        for text in [
            r#"{"n":1e999}"#,
            r#"{"a":["\udc00"]}"#,
            r#"{"responseElements":{"n":-1e400}}"#,
            r#"{"additionalEventData":"\ud800"}"#,
            r#"{"requestParameters":{"k":{"x":1e400}}}"#,
            r#"{"userIdentity":{"\udc00":1}}"#,
        ] {
            assert!(
                matches!(read(text), Err(ReadError::Unreadable(_))),
                "{text}"
            );
        }
        assert!(read(r#"{"n":1e300,"s":"\u00e9\ud83d\ude00"}"#).is_ok());
    }
}
