//! Ingest: a log file becomes stored events. The same path serves the S3
//! triggered Lambda, `tracker backfill` and `tracker serve --logs`:
//! [`pipeline`] parses and filters (synchronous, streaming), [`writer`] writes
//! through the storage seam (catalog first, then events, idempotently),
//! [`s3_event`] is the Lambda handler on top, [`eventbridge`] the other event
//! shapes it accepts, [`work_queue`] the backfill's SQS batches. [`triage`] runs the detection rules over files on disk
//! without storing anything (`tracker alerts`).

pub mod alerts;
pub mod batcher;
pub mod eventbridge;
pub mod folder;
pub mod notify;
pub mod pipeline;
pub mod progress;
pub mod rules;
pub mod s3_event;
pub mod triage;
pub mod work_queue;
pub mod writer;

pub use alerts::{NewAlert, RaisedAlert};
pub use batcher::WriteBatcher;
pub use eventbridge::{IngestEvent, UnknownEvent, failure_record_objects, handle_event};
pub use folder::{FileLedger, FolderOptions, ingest_folder};
pub use pipeline::{Pipeline, Prepared, RecordCounts, SkipList, TimeWindow};
pub use progress::{Progress, RunSummary};
pub use s3_event::{
    IngestDeps, IngestError, IngestSummary, handle_s3_event, ingest_objects, open_s3_object,
};
pub use triage::{TriageError, TriageMatch, TriageReport, triage};
pub use work_queue::{
    ObjectBatch, handle_queue_event, is_queue_event, queue_event, recovered_objects,
};
pub use writer::{FileOutcome, FileReport, Ingestor};
