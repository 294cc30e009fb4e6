//! Parquet inputs (e.g. a corpus another tool wrote): the text from a configurable column,
//! document fields from mapped columns, other scalar columns into `meta`. Read batch by batch.

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::reader::ChunkReader;
use serde_json::{Map, Value};

use super::jsonl::MAPPABLE;
use super::source::{Emit, RawDoc, ReadContext, ReadError};
use crate::reject::Reason;

/// Reads every row of a Parquet file; `emit_batch` is called after each batch so the caller can
/// process and flush (memory stays bounded by the batch).
///
/// The decoder runs in the ingest's producer, outside the readers' guard, so it has its own: a
/// panic in it (arrow-rs has open panics on malformed pages) rejects the rest of the file as
/// `malformed-parquet` instead of ending the run, and every rerun with it.
pub fn read<R: ChunkReader + 'static>(
    input: R,
    ctx: &ReadContext,
    emit_batch: &mut dyn FnMut(Vec<Emit>) -> Result<(), ReadError>,
) -> Result<(), ReadError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read_unguarded(input, ctx, emit_batch))).unwrap_or_else(
        |p| {
            Err(ReadError::new(
                Reason::MalformedParquet,
                format!("the Parquet decoder failed (please report this file): {}", super::source::panic_message(&*p)),
            ))
        },
    )
}

fn read_unguarded<R: ChunkReader + 'static>(
    input: R,
    ctx: &ReadContext,
    emit_batch: &mut dyn FnMut(Vec<Emit>) -> Result<(), ReadError>,
) -> Result<(), ReadError> {
    let bad = |e: parquet::errors::ParquetError| ReadError::new(Reason::MalformedParquet, e.to_string());
    let builder = ParquetRecordBatchReaderBuilder::try_new(input).map_err(bad)?;
    // Only the columns a document can use: scalar ones (nested columns, such as embeddings,
    // are never read into a document, so they are not decoded either).
    let scalar: Vec<usize> = builder
        .schema()
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| is_scalar(f.data_type()))
        .map(|(i, _)| i)
        .collect();
    let mask = parquet::arrow::ProjectionMask::roots(builder.parquet_schema(), scalar);
    let batch_size = batch_rows(builder.metadata(), builder.schema(), &ctx.options.text_field);
    let reader = builder.with_projection(mask).with_batch_size(batch_size).build().map_err(bad)?;
    let mut row0 = 0u64;
    for batch in reader {
        let batch = batch.map_err(|e| ReadError::new(Reason::MalformedParquet, format!("after row {row0}: {e}")))?;
        let emits = batch_to_emits(&batch, row0, ctx)?;
        row0 += batch.num_rows() as u64;
        emit_batch(emits)?;
    }
    Ok(())
}

/// Bytes of text a batch should hold: memory is bounded by bytes, not by rows.
const BATCH_TEXT_BYTES: u64 = 16 << 20;

/// Rows per batch: 1,024, or fewer where the text column's rows are large (from the row
/// groups' uncompressed sizes), so that a batch holds about [`BATCH_TEXT_BYTES`] of text.
fn batch_rows(meta: &parquet::file::metadata::ParquetMetaData, schema: &arrow_schema::Schema, text: &str) -> usize {
    let Ok(field) = schema.index_of(text) else { return 1024 };
    // The leaf of a top-level string column is the column of the same position among leaves
    // only when no nested column comes before it: find it by path instead.
    let leaf = meta
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .position(|c| c.path().parts() == [schema.field(field).name().as_str()]);
    let Some(leaf) = leaf else { return 1024 };
    let (mut bytes, mut rows) = (0u64, 0u64);
    for rg in meta.row_groups() {
        bytes = bytes.saturating_add(rg.column(leaf).uncompressed_size().max(0) as u64);
        rows = rows.saturating_add(rg.num_rows().max(0) as u64);
    }
    let per_row = bytes / rows.max(1);
    (BATCH_TEXT_BYTES / per_row.max(1)).clamp(1, 1024) as usize
}

/// The column types [`cell`] reads.
fn is_scalar(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Utf8
            | DataType::LargeUtf8
            | DataType::Utf8View
            | DataType::Boolean
            | DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
            | DataType::Float32
            | DataType::Float64
            | DataType::Date32
    )
}

fn batch_to_emits(batch: &RecordBatch, row0: u64, ctx: &ReadContext) -> Result<Vec<Emit>, ReadError> {
    let opts = ctx.options;
    let schema = batch.schema();
    let text_idx = schema.index_of(&opts.text_field).map_err(|_| {
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).take(12).collect();
        ReadError::new(
            Reason::MalformedRecord,
            format!("no column `{}` (set text_field); columns: {}", opts.text_field, names.join(", ")),
        )
    })?;
    let text_col = batch.column(text_idx);
    if !matches!(text_col.data_type(), DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) {
        return Err(ReadError::new(
            Reason::MalformedRecord,
            format!("column `{}` is {}, expected a string", opts.text_field, text_col.data_type()),
        ));
    }
    let mut out = Vec::with_capacity(batch.num_rows());
    for row in 0..batch.num_rows() {
        let locator = format!("row={}", row0 + row as u64);
        let Some(Value::String(text)) = cell(text_col, row) else {
            out.push(Emit::Reject {
                locator,
                reason: Reason::MalformedRecord,
                detail: format!("`{}` is null", opts.text_field),
            });
            continue;
        };
        if text.len() > opts.max_doc_bytes {
            out.push(Emit::Reject {
                locator,
                reason: Reason::TooLarge,
                detail: format!("{} bytes of text exceed max_doc_bytes {}", text.len(), opts.max_doc_bytes),
            });
            continue;
        }
        let mut doc = RawDoc { text, locator, ..Default::default() };
        let mut meta = Map::new();
        for (i, field) in schema.fields().iter().enumerate() {
            if i == text_idx {
                continue;
            }
            let Some(v) = cell(batch.column(i), row) else { continue };
            if matches!(&v, serde_json::Value::String(s) if s.trim().is_empty()) {
                continue;
            }
            let name = field.name();
            let mapped = MAPPABLE.iter().find(|m| opts.fields.get(**m).map(String::as_str).unwrap_or(m) == name);
            let as_string = match &v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            };
            match (mapped, as_string) {
                (Some(&"title"), Some(s)) => doc.title = Some(s),
                (Some(&"author"), Some(s)) => doc.author = Some(s),
                (Some(&"date"), Some(s)) => doc.date = Some(s),
                (Some(&"language"), Some(s)) => doc.language = Some(s),
                (Some(&"genre"), Some(s)) => doc.genre = Some(s),
                (Some(&"source"), Some(s)) => doc.source = Some(s),
                (Some(&"ocr_confidence"), _) if v.as_f64().is_some_and(|c| c.is_finite() && c >= 0.0) => {
                    let c = v.as_f64().unwrap_or(0.0);
                    doc.ocr_confidence = Some(if c > 1.0 { (c / 100.0).min(1.0) } else { c } as f32);
                }
                (Some(&"id"), _) => {
                    meta.insert("source_id".into(), v);
                }
                _ => {
                    meta.insert(name.clone(), v);
                }
            }
        }
        doc.meta = meta;
        out.push(Emit::Doc(doc));
    }
    Ok(out)
}

/// One cell as JSON, for the scalar types corpora use; `None` for null and for nested types.
fn cell(col: &ArrayRef, row: usize) -> Option<Value> {
    if col.is_null(row) {
        return None;
    }
    Some(match col.data_type() {
        DataType::Utf8 => Value::String(col.as_string::<i32>().value(row).to_string()),
        DataType::LargeUtf8 => Value::String(col.as_string::<i64>().value(row).to_string()),
        DataType::Utf8View => Value::String(col.as_string_view().value(row).to_string()),
        DataType::Boolean => Value::Bool(col.as_boolean().value(row)),
        DataType::Int8 => col.as_primitive::<Int8Type>().value(row).into(),
        DataType::Int16 => col.as_primitive::<Int16Type>().value(row).into(),
        DataType::Int32 => col.as_primitive::<Int32Type>().value(row).into(),
        DataType::Int64 => col.as_primitive::<Int64Type>().value(row).into(),
        DataType::UInt8 => col.as_primitive::<UInt8Type>().value(row).into(),
        DataType::UInt16 => col.as_primitive::<UInt16Type>().value(row).into(),
        DataType::UInt32 => col.as_primitive::<UInt32Type>().value(row).into(),
        DataType::UInt64 => col.as_primitive::<UInt64Type>().value(row).into(),
        DataType::Float32 => serde_json::Number::from_f64(col.as_primitive::<Float32Type>().value(row) as f64)?.into(),
        DataType::Float64 => serde_json::Number::from_f64(col.as_primitive::<Float64Type>().value(row))?.into(),
        DataType::Date32 => {
            let (y, m, d) = crate::date::civil_from_days(col.as_primitive::<Date32Type>().value(row));
            Value::String(format!("{y:04}-{m:02}-{d:02}"))
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::{Document, DocumentBatchBuilder};
    use crate::ingest::source::ReaderOptions;

    #[test]
    fn reads_a_kbcurate_dataset_part_back() {
        let mut b = DocumentBatchBuilder::new();
        for i in 0..3 {
            b.push(&Document {
                id: format!("d{i}"),
                text: format!("text {i}"),
                title: Some("T".into()),
                year: Some(1900),
                meta: "{}".into(),
                ..Default::default()
            });
        }
        let batch = b.finish();
        let mut buf = Vec::new();
        let mut w = parquet::arrow::ArrowWriter::try_new(&mut buf, batch.schema(), None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        let opts = ReaderOptions::default();
        let mut got = vec![];
        read(bytes::Bytes::from(buf), &ReadContext { path: "p.parquet", options: &opts }, &mut |e| {
            got.extend(e);
            Ok(())
        })
        .unwrap();
        assert_eq!(got.len(), 3);
        let Emit::Doc(d) = &got[2] else { panic!() };
        assert_eq!(d.text, "text 2");
        assert_eq!(d.locator, "row=2");
        assert_eq!(d.title.as_deref(), Some("T"));
        assert_eq!(d.meta["source_id"], "d2");
        assert_eq!(d.meta["year"], 1900);
    }

    /// Forty rows of 1 MB of text each, beside a nested column (a list of floats, as an
    /// embedding would be): the batches hold about 16 MB of text, not 1,024 rows of it, and the
    /// nested column is neither decoded into the documents nor an obstacle.
    #[test]
    fn batches_are_bounded_by_text_bytes_and_nested_columns_are_left_out() {
        use arrow_array::{builder::Float32Builder, builder::ListBuilder, StringArray};
        let text: Vec<String> = (0..40).map(|i| format!("{i:02} {}", "å".repeat(500_000))).collect();
        let mut emb = ListBuilder::new(Float32Builder::new());
        for i in 0..40 {
            emb.values().append_slice(&[i as f32, 0.5]);
            emb.append(true);
        }
        let batch = RecordBatch::try_from_iter([
            ("text", std::sync::Arc::new(StringArray::from(text.clone())) as ArrayRef),
            ("embedding", std::sync::Arc::new(emb.finish()) as ArrayRef),
        ])
        .unwrap();
        let mut buf = Vec::new();
        let mut w = parquet::arrow::ArrowWriter::try_new(&mut buf, batch.schema(), None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        let opts = ReaderOptions::default();
        let (mut sizes, mut docs) = (vec![], vec![]);
        read(bytes::Bytes::from(buf), &ReadContext { path: "p.parquet", options: &opts }, &mut |e| {
            sizes.push(e.len());
            docs.extend(e);
            Ok(())
        })
        .unwrap();
        assert_eq!(docs.len(), 40);
        assert!(sizes.iter().all(|&n| (1..=16).contains(&n)), "rows per batch: {sizes:?}");
        for (i, e) in docs.iter().enumerate() {
            let Emit::Doc(d) = e else { panic!("{e:?}") };
            assert_eq!(d.text, text[i]);
            assert!(!d.meta.contains_key("embedding"));
        }
    }

    /// A decoder that panics (as arrow-rs can on a malformed page) rejects the file; it does
    /// not unwind into the ingest.
    #[test]
    fn a_panicking_decoder_rejects_the_file() {
        struct Exploding(bytes::Bytes);
        impl parquet::file::reader::Length for Exploding {
            fn len(&self) -> u64 {
                self.0.len() as u64
            }
        }
        impl ChunkReader for Exploding {
            type T = bytes::buf::Reader<bytes::Bytes>;
            fn get_read(&self, _: u64) -> parquet::errors::Result<Self::T> {
                panic!("boom in get_read")
            }
            fn get_bytes(&self, _: u64, _: usize) -> parquet::errors::Result<bytes::Bytes> {
                panic!("boom in get_bytes")
            }
        }
        let opts = ReaderOptions::default();
        let err = read(
            Exploding(bytes::Bytes::from_static(b"PAR1....PAR1")),
            &ReadContext { path: "p", options: &opts },
            &mut |_| Ok(()),
        )
        .unwrap_err();
        assert_eq!(err.reason, Reason::MalformedParquet);
        assert!(err.detail.contains("boom"), "{}", err.detail);
    }

    /// Parquet as others write it: snappy (pyarrow's, pandas' and Spark's default) and gzip.
    #[test]
    fn snappy_and_gzip_files_are_read() {
        use parquet::basic::{Compression, GzipLevel};
        use parquet::file::properties::WriterProperties;
        let text: ArrayRef = std::sync::Arc::new(arrow_array::StringArray::from(vec!["Stockholm 1897", "Göteborg"]));
        let batch = RecordBatch::try_from_iter([("text", text)]).unwrap();
        for codec in [Compression::SNAPPY, Compression::GZIP(GzipLevel::default())] {
            let mut buf = Vec::new();
            let props = WriterProperties::builder().set_compression(codec).build();
            let mut w = parquet::arrow::ArrowWriter::try_new(&mut buf, batch.schema(), Some(props)).unwrap();
            w.write(&batch).unwrap();
            w.close().unwrap();
            let opts = ReaderOptions::default();
            let mut texts = vec![];
            read(bytes::Bytes::from(buf), &ReadContext { path: "p.parquet", options: &opts }, &mut |e| {
                texts.extend(e.into_iter().map(|e| match e {
                    Emit::Doc(d) => d.text,
                    other => panic!("{codec:?}: {other:?}"),
                }));
                Ok(())
            })
            .unwrap();
            assert_eq!(texts, ["Stockholm 1897", "Göteborg"], "{codec:?}");
        }
    }

    #[test]
    fn garbage_is_malformed_parquet() {
        let opts = ReaderOptions::default();
        let err = read(
            bytes::Bytes::from_static(b"PAR1 not really"),
            &ReadContext { path: "p", options: &opts },
            &mut |_| Ok(()),
        )
        .unwrap_err();
        assert_eq!(err.reason, Reason::MalformedParquet);
    }
}
