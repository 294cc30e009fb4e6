//! The filter step's part: input part `i` written again without its duplicates, the kept
//! documents with their cluster, the others to `rejected/` naming the copy that was kept.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{Float32Builder, StringBuilder, UInt32Builder};
use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use super::boilerplate::strip;
use super::error::DedupError;
use super::index::IndexWriter;
use super::work::Decision;
use super::STAGE;
use crate::dataset::{self, Counts, Dataset, PartRecord, RejectionSink};
use crate::reject::Reason;

/// The columns this stage adds (an input that has them, from an earlier dedup, gets them anew).
const ADDED: [&str; 4] = ["dup_cluster", "dup_cluster_size", "contained_in", "contained_score"];

/// The output schema: the input's columns plus `dup_cluster`, `dup_cluster_size`,
/// `contained_in` and `contained_score`.
pub(super) fn output_schema(input: &Schema) -> SchemaRef {
    let mut fields: Vec<Field> =
        input.fields().iter().filter(|f| !ADDED.contains(&f.name().as_str())).map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new("dup_cluster", DataType::Utf8, false));
    fields.push(Field::new("dup_cluster_size", DataType::UInt32, false));
    fields.push(Field::new("contained_in", DataType::Utf8, true));
    fields.push(Field::new("contained_score", DataType::Float32, true));
    Arc::new(Schema::new(fields))
}

#[allow(clippy::too_many_arguments)]
pub(super) fn filter_part(
    ds: &Dataset,
    part: &dataset::PartFile,
    i: u32,
    out: &Path,
    compression: crate::dataset::Codec,
    boiler: &HashSet<u64>,
    norm: super::normalize::Normalization,
    mut decide: impl FnMut(u64) -> Result<Decision, DedupError>,
    mut index: Option<&mut IndexWriter>,
) -> Result<PartRecord, DedupError> {
    let mut scratch = String::new();
    let props = dataset::writer_properties(compression);
    let mut rejected = RejectionSink::create(out, &dataset::rejected_part_name(i), props.clone(), 4096, 32 << 20)?;
    let mut kept_rows = dataset::KeptRows::new(out, i, props);
    let mut counts = Counts::default();
    let (mut row, mut text_bytes) = (0u64, 0u64);
    let mut schema: Option<SchemaRef> = None;
    for batch in ds.batches(part)? {
        let batch = batch?;
        let sch = schema.get_or_insert_with(|| output_schema(&batch.schema())).clone();
        let text = batch
            .column_by_name("text")
            .ok_or_else(|| DedupError::Other("no `text` column".into()))?
            .as_string::<i64>()
            .clone();
        let s = |name: &str| batch.column_by_name(name).map(|c| c.as_string::<i32>().clone());
        let (ids, sources) = (s("id"), s("source"));
        let get = |c: &Option<arrow_array::StringArray>, r: usize| {
            c.as_ref().filter(|c| c.is_valid(r)).map(|c| c.value(r).to_string())
        };
        let origin = dataset::RowOrigin::of(&batch);
        let mut keep = Vec::with_capacity(batch.num_rows());
        let mut cluster = StringBuilder::new();
        let mut size = UInt32Builder::new();
        let mut container = StringBuilder::new();
        let mut contained_score = Float32Builder::new();
        // Kept documents that lost boilerplate lines: their new text (the others keep theirs).
        let mut edits = dataset::TextEdits::new();
        for r in 0..batch.num_rows() {
            let d = decide(row)?;
            row += 1;
            counts.input += 1;
            let id = get(&ids, r).unwrap_or_default();
            let src = get(&sources, r).unwrap_or_default();
            let stripped = if d.keep { strip(text.value(r), &src, boiler, norm, &mut scratch) } else { None };
            // Nothing but boilerplate: not a document any more.
            let emptied = stripped.as_ref().is_some_and(|(t, _)| t.is_empty());
            if let Some(ix) = index.as_mut() {
                ix.row(d.keep && !emptied)?;
            }
            if d.keep && !emptied {
                match stripped {
                    Some((t, n)) => {
                        *counts.lines_removed.entry("boilerplate".into()).or_default() += n;
                        text_bytes += t.len() as u64;
                        let words = crate::document::count_words(&t);
                        edits.push(r, t, words);
                    }
                    None => text_bytes += text.value(r).len() as u64,
                }
                counts.kept += 1;
                cluster.append_value(d.cluster.as_deref().unwrap_or(&id));
                size.append_value(d.size);
                container.append_option(d.contained.as_ref().map(|(c, _)| c));
                contained_score.append_option(d.contained.as_ref().map(|&(_, s)| s));
                keep.push(true);
                continue;
            }
            let kept = d.cluster.clone().or_else(|| d.contained.as_ref().map(|(c, _)| c.clone())).unwrap_or_default();
            let (reason, detail) = if emptied {
                (Reason::EmptyText, "every line is boilerplate of its source".to_string())
            } else if let Some((c, score)) = &d.contained {
                let earlier = if d.earlier { "; in the earlier dataset" } else { "" };
                (d.reason(), format!("contained in {c} (its passage aligns at {score:.3}{earlier})"))
            } else if d.earlier {
                (
                    d.reason(),
                    format!(
                        "kept {kept} (cluster of {}; similarity {:.3}; in the earlier dataset)",
                        d.size, d.similarity
                    ),
                )
            } else {
                (d.reason(), format!("kept {kept} (cluster of {}; similarity {:.3})", d.size, d.similarity))
            };
            let score = (!emptied).then_some(d.contained.as_ref().map_or(d.similarity, |&(_, s)| s));
            *counts.rejected.entry(reason.as_str().to_string()).or_default() += 1;
            let mut rejection = origin.rejection(r, STAGE, reason.as_str(), detail, Some(text.value(r).to_string()));
            rejection.score = score;
            rejected.push(&rejection)?;
            cluster.append_value(&kept);
            size.append_value(d.size);
            container.append_option(d.contained.as_ref().map(|(c, _)| c));
            contained_score.append_option(d.contained.as_ref().map(|&(_, s)| s));
            keep.push(false);
        }
        let edited = edits.apply(&batch).map_err(|e| DedupError::Other(e.to_string()))?;
        let mut columns: Vec<ArrayRef> = edited
            .schema()
            .fields()
            .iter()
            .zip(edited.columns())
            .filter(|(f, _)| !ADDED.contains(&f.name().as_str()))
            .map(|(_, c)| c.clone())
            .collect();
        columns.push(Arc::new(cluster.finish()));
        columns.push(Arc::new(size.finish()));
        columns.push(Arc::new(container.finish()));
        columns.push(Arc::new(contained_score.finish()));
        let full = RecordBatch::try_new(sch, columns).map_err(|e| DedupError::Other(e.to_string()))?;
        kept_rows.write(&full, keep)?;
    }
    debug_assert_eq!(kept_rows.rows(), counts.kept);
    let documents = kept_rows.finish(output_schema(&crate::document::schema()))?;
    let rejected = rejected.finish()?;
    Ok(PartRecord { part: i, counts, documents, rejected, input_bytes: part.bytes, text_bytes })
}
