//! Where an embedded database's bytes go, table by table:
//! `cargo run -p tracker-runtime --example store_space -- tracker.db`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: store_space DATABASE")?;
    let store = tracker_runtime::store::EmbeddedStore::open(std::path::Path::new(&path))?;
    let file = std::fs::metadata(&path)?.len();
    println!("{path}: {file} bytes, {} events", store.event_count()?);
    println!(
        "{:<16} {:>10} {:>12} {:>12} {:>12}",
        "table", "entries", "stored", "metadata", "fragmented"
    );
    let mut total = 0;
    for t in store.space()? {
        total += t.stored + t.metadata + t.fragmented;
        println!(
            "{:<16} {:>10} {:>12} {:>12} {:>12}",
            t.table, t.entries, t.stored, t.metadata, t.fragmented
        );
    }
    println!(
        "in tables: {total} bytes; not in any table: {} bytes",
        file.saturating_sub(total)
    );
    Ok(())
}
