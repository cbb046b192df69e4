//! The filter language of the service's configuration: a filter compares
//! one field of an item with a comparand; filters in a group must all match
//! (AND), and an item matches a list of groups when any group does (OR). The
//! official Python client checks only a group's first filter: every filter
//! counts here.
//!
//! Fields, by telemetry type: Request `Name Url ResponseCode Duration
//! Success`; Dependency `Name Target Type Data ResultCode Duration Success`;
//! Exception `Exception.Message Exception.StackTrace`; Trace `Message`; Event
//! `Name`; any type `CustomDimensions.<key>` and `*` (any field).
//!
//! Predicates: `Equal NotEqual LessThan GreaterThan LessThanOrEqual
//! GreaterThanOrEqual Contains DoesNotContain`. Text: Equal and NotEqual are
//! case-sensitive, Contains and DoesNotContain are not; the four comparisons
//! compare numbers (a result code, a numeric dimension), and an item whose
//! field is not a number does not match them. Duration: the comparand is a
//! .NET timespan (`0.0:0:0.2` is 200 ms) and Contains makes no sense. Success:
//! Equal or NotEqual `true` / `false`. `*`: Contains or DoesNotContain, over
//! every field and custom dimension's value. A custom dimension the item does
//! not have matches no filter on it; a fixed field an item leaves empty is
//! the empty text. What cannot be compiled is refused with a reason, and the
//! configuration reports it back to the service.

use super::item::{LiveItem, TelemetryType};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Predicate {
    Equal,
    NotEqual,
    LessThan,
    GreaterThan,
    LessThanOrEqual,
    GreaterThanOrEqual,
    Contains,
    DoesNotContain,
}

impl Predicate {
    fn parse(name: &str) -> Option<Self> {
        use Predicate::*;
        Some(match name {
            "Equal" => Equal,
            "NotEqual" => NotEqual,
            "LessThan" => LessThan,
            "GreaterThan" => GreaterThan,
            "LessThanOrEqual" => LessThanOrEqual,
            "GreaterThanOrEqual" => GreaterThanOrEqual,
            "Contains" => Contains,
            "DoesNotContain" => DoesNotContain,
            _ => return None,
        })
    }

    fn is_comparison(self) -> bool {
        use Predicate::*;
        matches!(
            self,
            LessThan | GreaterThan | LessThanOrEqual | GreaterThanOrEqual
        )
    }

    /// `a <op> b` for the ordering predicates and Equal / NotEqual.
    fn compare<T: PartialOrd>(self, a: T, b: T) -> bool {
        use Predicate::*;
        match self {
            Equal => a == b,
            NotEqual => a != b,
            LessThan => a < b,
            GreaterThan => a > b,
            LessThanOrEqual => a <= b,
            GreaterThanOrEqual => a >= b,
            Contains | DoesNotContain => false,
        }
    }
}

/// A field a filter reads.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Field {
    Name,
    Url,
    /// ResponseCode or ResultCode.
    Code,
    Duration,
    Success,
    Target,
    Type,
    Data,
    /// A trace's Message or an exception's Exception.Message.
    Message,
    StackTrace,
    Dimension(String),
    Any,
}

impl Field {
    /// The field `name` of telemetry type `t`, if that type has it.
    fn parse(t: TelemetryType, name: &str) -> Option<Self> {
        use TelemetryType::*;
        if name == "*" {
            return Some(Field::Any);
        }
        if let Some(key) = name.strip_prefix("CustomDimensions.") {
            return (!key.is_empty()).then(|| Field::Dimension(key.to_string()));
        }
        Some(match (t, name) {
            (Request | Dependency | Event, "Name") => Field::Name,
            (Request, "Url") => Field::Url,
            (Request, "ResponseCode") | (Dependency, "ResultCode") => Field::Code,
            (Request | Dependency, "Duration") => Field::Duration,
            (Request | Dependency, "Success") => Field::Success,
            (Dependency, "Target") => Field::Target,
            (Dependency, "Type") => Field::Type,
            (Dependency, "Data") => Field::Data,
            (Trace, "Message") | (Exception, "Exception.Message") => Field::Message,
            (Exception, "Exception.StackTrace") => Field::StackTrace,
            _ => return None,
        })
    }

    /// The field's text on `item`; `None` for a dimension it lacks.
    fn text<'i>(&self, item: &'i LiveItem<'_>) -> Option<&'i str> {
        Some(match self {
            Field::Name => &item.name,
            Field::Url => &item.url,
            Field::Code => &item.code,
            Field::Target => &item.target,
            Field::Type => &item.dependency_type,
            Field::Data => &item.data,
            Field::Message => &item.message,
            Field::StackTrace => &item.stack,
            Field::Dimension(key) => return item.dimension(key),
            Field::Duration | Field::Success | Field::Any => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Comparand {
    /// Kept as given and lowercased (for Contains), with its number when it
    /// is one (for the comparisons).
    Text {
        exact: String,
        lower: String,
        number: Option<f64>,
    },
    DurationNanos(u64),
    Bool(bool),
}

/// One compiled filter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Filter {
    field: Field,
    predicate: Predicate,
    comparand: Comparand,
}

impl Filter {
    /// Compiles `{FieldName, Predicate, Comparand}` for items of type `t`;
    /// the error says what is wrong.
    pub fn compile(
        t: TelemetryType,
        field_name: &str,
        predicate_name: &str,
        comparand: &str,
    ) -> Result<Self, String> {
        let field = Field::parse(t, field_name)
            .ok_or_else(|| format!("{} has no field {field_name:?}", t.name()))?;
        let predicate = Predicate::parse(predicate_name)
            .ok_or_else(|| format!("unknown predicate {predicate_name:?}"))?;
        let refuse = || {
            Err(format!(
                "field {field_name:?} does not support predicate {predicate_name}"
            ))
        };
        let comparand = match field {
            Field::Any => match predicate {
                Predicate::Contains | Predicate::DoesNotContain => text_comparand(comparand),
                _ => return refuse(),
            },
            Field::Success => match predicate {
                Predicate::Equal | Predicate::NotEqual => {
                    match comparand.trim().to_ascii_lowercase().as_str() {
                        "true" => Comparand::Bool(true),
                        "false" => Comparand::Bool(false),
                        _ => {
                            return Err(format!(
                                "Success compares with true or false, not {comparand:?}"
                            ))
                        }
                    }
                }
                _ => return refuse(),
            },
            Field::Duration => match predicate {
                Predicate::Contains | Predicate::DoesNotContain => return refuse(),
                _ => Comparand::DurationNanos(parse_timespan(comparand).ok_or_else(|| {
                    format!("{comparand:?} is not a timespan ([d.]hh:mm:ss[.fffffff])")
                })?),
            },
            _ => {
                let c = text_comparand(comparand);
                if predicate.is_comparison() {
                    if let Comparand::Text { number: None, .. } = c {
                        return Err(format!(
                            "{predicate_name} compares numbers; {comparand:?} is not one"
                        ));
                    }
                }
                c
            }
        };
        Ok(Self {
            field,
            predicate,
            comparand,
        })
    }

    pub fn matches(&self, item: &LiveItem<'_>) -> bool {
        match (&self.field, &self.comparand) {
            (Field::Success, Comparand::Bool(b)) => self.predicate.compare(item.success, *b),
            (Field::Duration, Comparand::DurationNanos(n)) => {
                self.predicate.compare(item.duration_nanos, *n)
            }
            (Field::Any, Comparand::Text { lower, .. }) => {
                let found = any_text(item).any(|t| contains_ci(t, lower));
                match self.predicate {
                    Predicate::Contains => found,
                    _ => !found,
                }
            }
            (
                field,
                Comparand::Text {
                    exact,
                    lower,
                    number,
                },
            ) => {
                let Some(value) = field.text(item) else {
                    return false;
                };
                match self.predicate {
                    Predicate::Equal => value == exact,
                    Predicate::NotEqual => value != exact,
                    Predicate::Contains => contains_ci(value, lower),
                    Predicate::DoesNotContain => !contains_ci(value, lower),
                    p => match (value.trim().parse::<f64>(), number) {
                        (Ok(v), Some(n)) => p.compare(v, *n),
                        _ => false,
                    },
                }
            }
            // `compile` pairs every field with its comparand's kind.
            _ => false,
        }
    }
}

fn text_comparand(s: &str) -> Comparand {
    Comparand::Text {
        exact: s.to_string(),
        lower: s.to_lowercase(),
        number: s.trim().parse::<f64>().ok().filter(|n| n.is_finite()),
    }
}

/// Every text an item has, for `*`: its fields and its dimensions' values.
fn any_text<'i>(item: &'i LiveItem<'_>) -> impl Iterator<Item = &'i str> {
    [
        &item.name,
        &item.url,
        &item.code,
        &item.target,
        &item.dependency_type,
        &item.data,
        &item.message,
        &item.exception_type,
        &item.stack,
    ]
    .into_iter()
    .map(|c| c.as_ref())
    .chain(item.dimensions.iter().map(|(_, v)| v.as_ref()))
}

/// `needle_lower` (already lowercase) in `hay`, ignoring case.
fn contains_ci(hay: &str, needle_lower: &str) -> bool {
    if needle_lower.is_empty() {
        return true;
    }
    if hay.is_ascii() && needle_lower.is_ascii() {
        let (h, n) = (hay.as_bytes(), needle_lower.as_bytes());
        return h
            .windows(n.len())
            .any(|w| w.iter().zip(n).all(|(a, b)| a.to_ascii_lowercase() == *b));
    }
    hay.to_lowercase().contains(needle_lower)
}

/// A .NET timespan as nanoseconds: `[-][d.]hh:mm[:ss[.fffffff]]`, or a
/// whole number of days (`TimeSpan.Parse("2")` is two days). Negative
/// spans compare as 0: no duration is shorter.
pub(crate) fn parse_timespan(s: &str) -> Option<u64> {
    let s = s.trim();
    let (negative, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    const NS_PER_S: u64 = 1_000_000_000;
    let nanos = if !s.contains(':') {
        s.parse::<u64>().ok()?.checked_mul(86_400 * NS_PER_S)?
    } else {
        let parts: Vec<&str> = s.split(':').collect();
        if parts.len() > 3 {
            return None;
        }
        let (days, hours) = match parts[0].split_once('.') {
            Some((d, h)) => (number(d)?, number(h)?),
            None => (0, number(parts[0])?),
        };
        let minutes = number(parts[1])?;
        let (seconds, fraction) = match parts.get(2) {
            Some(sec) => match sec.split_once('.') {
                Some((s, f)) => (number(s)?, fraction_nanos(f)?),
                None => (number(sec)?, 0),
            },
            None => (0, 0),
        };
        if hours > 23 || minutes > 59 || seconds > 59 {
            return None;
        }
        // Checked at every step: a configuration may name any number of
        // days, and a sum that wrapped would filter on another duration.
        days.checked_mul(24)?
            .checked_add(hours)?
            .checked_mul(60)?
            .checked_add(minutes)?
            .checked_mul(60)?
            .checked_add(seconds)?
            .checked_mul(NS_PER_S)?
            .checked_add(fraction)?
    };
    Some(if negative { 0 } else { nanos })
}

fn number(s: &str) -> Option<u64> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// `.2` -> 200 ms; at most 7 digits (100 ns ticks), as .NET reads them.
fn fraction_nanos(f: &str) -> Option<u64> {
    if f.is_empty() || f.len() > 7 || !f.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits: u64 = f.parse().ok()?;
    Some(digits * 10u64.pow(9 - f.len() as u32))
}

/// Filters that must all match (an empty group matches everything).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Conjunction(pub Vec<Filter>);

impl Conjunction {
    pub fn matches(&self, item: &LiveItem<'_>) -> bool {
        self.0.iter().all(|f| f.matches(item))
    }
}

/// Groups of which one must match (no group at all matches everything).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Disjunction(pub Vec<Conjunction>);

impl Disjunction {
    pub fn matches(&self, item: &LiveItem<'_>) -> bool {
        self.0.is_empty() || self.0.iter().any(|g| g.matches(item))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn request() -> LiveItem<'static> {
        let mut i = LiveItem::new(TelemetryType::Request);
        i.name = Cow::Borrowed("POST /Checkout");
        i.url = Cow::Borrowed("https://shop.example/checkout?cart=7");
        i.code = Cow::Borrowed("503");
        i.duration_nanos = 250_000_000;
        i.success = false;
        i.dimensions = vec![
            (Cow::Borrowed("tier"), Cow::Borrowed("Gold")),
            (Cow::Borrowed("tokens"), Cow::Borrowed("1200")),
        ];
        i
    }

    fn dependency() -> LiveItem<'static> {
        let mut i = LiveItem::new(TelemetryType::Dependency);
        i.name = Cow::Borrowed("GET /menu");
        i.target = Cow::Borrowed("menu.internal:8080");
        i.dependency_type = Cow::Borrowed("HTTP");
        i.data = Cow::Borrowed("http://menu.internal:8080/menu");
        i.code = Cow::Borrowed("200");
        i.duration_nanos = 40_000_000;
        i
    }

    fn check(t: TelemetryType, item: &LiveItem<'_>, field: &str, p: &str, c: &str) -> bool {
        Filter::compile(t, field, p, c)
            .unwrap_or_else(|e| panic!("{field} {p} {c}: {e}"))
            .matches(item)
    }

    #[test]
    fn every_predicate_on_text() {
        let r = request();
        let t = TelemetryType::Request;
        assert!(check(t, &r, "Name", "Equal", "POST /Checkout"));
        assert!(
            !check(t, &r, "Name", "Equal", "post /checkout"),
            "Equal is case-sensitive"
        );
        assert!(check(t, &r, "Name", "NotEqual", "post /checkout"));
        assert!(!check(t, &r, "Name", "NotEqual", "POST /Checkout"));
        assert!(
            check(t, &r, "Name", "Contains", "CHECKOUT"),
            "Contains is not"
        );
        assert!(!check(t, &r, "Name", "DoesNotContain", "checkout"));
        assert!(check(t, &r, "Url", "DoesNotContain", "admin"));
        assert!(check(t, &r, "Url", "Contains", "cart=7"));
        // Comparisons compare numbers.
        assert!(check(t, &r, "ResponseCode", "GreaterThanOrEqual", "500"));
        assert!(check(t, &r, "ResponseCode", "GreaterThan", "502"));
        assert!(!check(t, &r, "ResponseCode", "LessThan", "503"));
        assert!(check(t, &r, "ResponseCode", "LessThanOrEqual", "503"));
        assert!(check(t, &r, "ResponseCode", "Equal", "503"));
        assert!(check(
            t,
            &r,
            "CustomDimensions.tokens",
            "GreaterThan",
            "1000"
        ));
        // A text that is not a number matches no comparison.
        assert!(!check(t, &r, "CustomDimensions.tier", "GreaterThan", "1"));
    }

    #[test]
    fn durations_success_and_any_field() {
        let r = request();
        let t = TelemetryType::Request;
        assert!(check(t, &r, "Duration", "GreaterThan", "0.0:0:0.2"));
        assert!(check(t, &r, "Duration", "Equal", "00:00:00.25"));
        assert!(check(t, &r, "Duration", "NotEqual", "00:00:00.2"));
        assert!(check(t, &r, "Duration", "LessThan", "0:0:1"));
        assert!(check(
            t,
            &r,
            "Duration",
            "LessThanOrEqual",
            "00:00:00.2500000"
        ));
        assert!(!check(
            t,
            &r,
            "Duration",
            "GreaterThanOrEqual",
            "1.00:00:00"
        ));
        assert!(check(t, &r, "Success", "Equal", "false"));
        assert!(check(t, &r, "Success", "NotEqual", "True"));
        assert!(check(t, &r, "*", "Contains", "gold"), "a dimension's value");
        assert!(check(t, &r, "*", "Contains", "shop.EXAMPLE"));
        assert!(check(t, &r, "*", "DoesNotContain", "nowhere"));
        assert!(!check(t, &r, "*", "DoesNotContain", "503"));
        let d = dependency();
        let t = TelemetryType::Dependency;
        assert!(check(t, &d, "Target", "Equal", "menu.internal:8080"));
        assert!(check(t, &d, "Type", "Equal", "HTTP"));
        assert!(check(t, &d, "Data", "Contains", "/MENU"));
        assert!(check(t, &d, "ResultCode", "LessThan", "400"));
        assert!(check(t, &d, "Success", "Equal", "true"));
        assert!(check(t, &d, "Duration", "LessThan", "0.0:0:0.05"));
    }

    #[test]
    fn exceptions_and_traces_have_their_own_fields() {
        let mut e = LiveItem::new(TelemetryType::Exception);
        e.message = Cow::Borrowed("Order 42 not found");
        e.stack = Cow::Borrowed("at lookup()");
        let t = TelemetryType::Exception;
        assert!(check(t, &e, "Exception.Message", "Contains", "not FOUND"));
        assert!(check(t, &e, "Exception.StackTrace", "Contains", "lookup"));
        let mut tr = LiveItem::new(TelemetryType::Trace);
        tr.message = Cow::Borrowed("hello");
        assert!(check(
            TelemetryType::Trace,
            &tr,
            "Message",
            "Equal",
            "hello"
        ));
        let mut ev = LiveItem::new(TelemetryType::Event);
        ev.name = Cow::Borrowed("order placed");
        assert!(check(
            TelemetryType::Event,
            &ev,
            "Name",
            "Contains",
            "ORDER"
        ));
    }

    #[test]
    fn a_missing_dimension_matches_no_filter_on_it() {
        let r = request();
        for p in ["Equal", "NotEqual", "Contains", "DoesNotContain"] {
            assert!(
                !check(
                    TelemetryType::Request,
                    &r,
                    "CustomDimensions.absent",
                    p,
                    "x"
                ),
                "{p}"
            );
        }
    }

    #[test]
    fn what_cannot_be_compiled_says_why() {
        let t = TelemetryType::Request;
        let err = |f, p, c| Filter::compile(t, f, p, c).unwrap_err();
        assert!(err("Target", "Equal", "x").contains("Request has no field"));
        assert!(err("Name", "Like", "x").contains("unknown predicate"));
        assert!(err("*", "Equal", "x").contains("does not support"));
        assert!(err("Duration", "Contains", "1").contains("does not support"));
        assert!(err("Success", "LessThan", "true").contains("does not support"));
        assert!(err("Success", "Equal", "yes").contains("true or false"));
        assert!(err("Duration", "LessThan", "soon").contains("timespan"));
        assert!(err("Name", "LessThan", "abc").contains("numbers"));
        assert!(err("CustomDimensions.", "Equal", "x").contains("no field"));
        assert!(Filter::compile(TelemetryType::Trace, "Exception.Message", "Equal", "x").is_err());
    }

    #[test]
    fn timespans_read_as_dotnet_reads_them() {
        let ms = |s| parse_timespan(s).map(|n| n / 1_000_000);
        assert_eq!(ms("0.0:0:0.2"), Some(200));
        assert_eq!(ms("00:00:01"), Some(1000));
        assert_eq!(ms("00:01"), Some(60_000), "hh:mm");
        assert_eq!(
            ms("1.02:03:04.5"),
            Some(((26 * 60 + 3) * 60 + 4) * 1000 + 500)
        );
        assert_eq!(ms("2"), Some(2 * 86_400_000), "days");
        assert_eq!(parse_timespan("00:00:00.0000001"), Some(100));
        assert_eq!(ms("-00:00:01"), Some(0));
        for bad in [
            "",
            "x",
            "00:60:00",
            "24:00:00",
            "0:0:0.12345678",
            "1:2:3:4",
            "0:a",
            // More days than nanoseconds fit in 64 bits, in each step of
            // the sum (the service's configuration is not ours to trust).
            "213503982336.00:00",
            "99999999999999999.00:00",
            "18446744073709551615.23:59:59.9999999",
            "213503982335000",
        ] {
            assert_eq!(parse_timespan(bad), None, "{bad}");
        }
    }

    #[test]
    fn and_within_a_group_or_across_groups() {
        let t = TelemetryType::Request;
        let f = |field, p, c| Filter::compile(t, field, p, c).unwrap();
        let r = request();
        let both = Conjunction(vec![
            f("Name", "Contains", "checkout"),
            f("Success", "Equal", "false"),
        ]);
        let second_fails = Conjunction(vec![
            f("Name", "Contains", "checkout"),
            f("Success", "Equal", "true"),
        ]);
        assert!(both.matches(&r));
        assert!(
            !second_fails.matches(&r),
            "every filter of a group counts, not the first"
        );
        assert!(Disjunction(vec![second_fails.clone(), both]).matches(&r));
        assert!(!Disjunction(vec![second_fails]).matches(&r));
        assert!(Disjunction::default().matches(&r), "no groups: everything");
        assert!(
            Conjunction::default().matches(&r),
            "an empty group: everything"
        );
    }
}
