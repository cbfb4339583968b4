//! Alerts as items of the block and rollup layer ([`StoredItem`]): the row
//! as JSON under its key (see [`keys::alert_key`]), expiring with the events
//! when they have a retention; and the markers of the months that hold
//! alerts, so a window reads only those months.

use super::{StoredItem, keys};
use crate::alert::AlertRow;
use crate::time;

/// The item of an alert; `retention_days == 0` keeps it forever (as events).
pub fn alert_item(row: &AlertRow, retention_days: u32) -> StoredItem {
    let instant = row.event_time.as_deref().and_then(time::parse_event_time);
    let (partition, sort) = keys::alert_key(instant.as_ref(), &row.event_id, &row.rule_id);
    let expires_at = (retention_days > 0).then(|| {
        let base = instant.unwrap_or_else(chrono::Utc::now);
        base.timestamp() + i64::from(retention_days) * 86_400
    });
    StoredItem {
        partition,
        sort,
        version: 0,
        // Serialising plain strings cannot fail.
        value: serde_json::to_vec(row).unwrap_or_default(),
        expires_at,
    }
}

/// The month an alert item is kept in (`YYYY-MM`), if it has one.
pub fn alert_month(item: &StoredItem) -> Option<&str> {
    item.partition
        .strip_prefix("A#")
        .filter(|month| month.len() == 7)
}

/// The marker saying that `month` (`YYYY-MM`) holds alerts.
pub fn month_marker(month: &str) -> StoredItem {
    StoredItem {
        partition: keys::ALERT_MONTHS_PARTITION.to_owned(),
        sort: month.to_owned(),
        version: 0,
        value: Vec::new(),
        expires_at: None,
    }
}

/// The alert row an item holds.
pub fn decode_alert(item: &StoredItem) -> Result<AlertRow, String> {
    serde_json::from_slice(&item.value).map_err(|e| format!("not an alert row: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(time: Option<&str>) -> AlertRow {
        AlertRow {
            rule_id: "r1".into(),
            title: "t".into(),
            level: "low".into(),
            author: "a".into(),
            references: Vec::new(),
            event_id: "e1".into(),
            event_time: time.map(str::to_owned),
            event_name: None,
            event_source: None,
            principal: "p".into(),
            source_ip_address: None,
            aws_region: None,
            file: "f".into(),
        }
    }

    #[test]
    fn an_alert_round_trips_under_its_months_key() {
        let row = row(Some("2024-05-01T10:00:00+02:00"));
        let item = alert_item(&row, 10);
        assert_eq!(item.partition, "A#2024-05");
        assert_eq!(item.sort, "2024-05-01T08:00:00.000000Z#e1#r1");
        assert_eq!(alert_month(&item), Some("2024-05"));
        assert_eq!(item.expires_at, Some(1_714_550_400 + 10 * 86_400));
        assert_eq!(decode_alert(&item).unwrap(), row);
        assert_eq!(alert_item(&row, 0).expires_at, None);
        let timeless = alert_item(&super::tests::row(None), 0);
        assert_eq!(
            (timeless.partition.as_str(), alert_month(&timeless)),
            ("A#-", None)
        );
        assert!(decode_alert(&month_marker("2024-05")).is_err());
    }
}
