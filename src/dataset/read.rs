//! Reading datasets: [`Dataset`] (a manifest and its checked parts) and Parquet readers.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::document::{self, Document, Rejection};

use super::{io_err, DatasetError, Manifest, PartFile};

/// An existing dataset, opened for reading.
pub struct Dataset {
    pub dir: PathBuf,
    pub manifest: Manifest,
}

impl Dataset {
    /// Opens the dataset in `dir`: its manifest, and every part it lists checked for its
    /// recorded size (a part cut short by a crash is named here, not met halfway through a
    /// read; see [Durability](super#durability)).
    pub fn open(dir: &Path) -> Result<Dataset, DatasetError> {
        let manifest = Manifest::read(dir)?;
        for p in manifest.parts.iter().chain(&manifest.rejected_parts) {
            // A part is a file inside the dataset folder: a manifest naming `../x` or `/x` is
            // refused, not followed.
            let inside = !p.file.is_empty()
                && Path::new(&p.file).components().all(|c| matches!(c, std::path::Component::Normal(_)));
            if !inside {
                return Err(DatasetError::NotADataset {
                    path: dir.join(super::MANIFEST),
                    why: format!("part `{}` is not a path inside the dataset folder", p.file),
                });
            }
            let path = dir.join(&p.file);
            let len = fs::metadata(&path).map_err(io_err(&path))?.len();
            if len != p.bytes {
                return Err(DatasetError::PartSize { path, len, want: p.bytes });
            }
        }
        Ok(Dataset { dir: dir.to_path_buf(), manifest })
    }

    /// Record batches of one Parquet file of the dataset, streamed.
    pub fn batches(
        &self,
        part: &PartFile,
    ) -> Result<impl Iterator<Item = Result<RecordBatch, DatasetError>>, DatasetError> {
        read_parquet_batches(&self.dir.join(&part.file), 1024)
    }

    /// As [`Dataset::batches`], with only the named columns that the part has (the others are
    /// not read at all).
    pub fn batches_of(
        &self,
        part: &PartFile,
        columns: &[&str],
    ) -> Result<impl Iterator<Item = Result<RecordBatch, DatasetError>>, DatasetError> {
        read_parquet_projected(&self.dir.join(&part.file), columns, 1024)
    }

    /// All kept documents, part by part (streamed; each batch materialized at a time).
    pub fn documents(&self) -> impl Iterator<Item = Result<Document, DatasetError>> + '_ {
        self.manifest.parts.iter().flat_map(move |p| {
            let path = self.dir.join(&p.file);
            let batches: Box<dyn Iterator<Item = Result<RecordBatch, DatasetError>>> = match self.batches(p) {
                Ok(b) => Box::new(b),
                Err(e) => Box::new(std::iter::once(Err(e))),
            };
            batches.flat_map(move |b| {
                let docs: Vec<Result<Document, DatasetError>> = match b {
                    Ok(b) => match document::documents_from_batch(&b) {
                        Ok(d) => d.into_iter().map(Ok).collect(),
                        Err(source) => vec![Err(DatasetError::Schema { path: path.clone(), source })],
                    },
                    Err(e) => vec![Err(e)],
                };
                docs
            })
        })
    }

    /// All rejections of the stage that wrote this dataset.
    pub fn rejections(&self) -> Result<Vec<Rejection>, DatasetError> {
        let mut out = Vec::new();
        for p in &self.manifest.rejected_parts {
            let path = self.dir.join(&p.file);
            for b in read_parquet_batches(&path, 4096)? {
                out.extend(
                    document::rejections_from_batch(&b?)
                        .map_err(|source| DatasetError::Schema { path: path.clone(), source })?,
                );
            }
        }
        Ok(out)
    }
}

/// One string column of a Parquet file, read alone (projected).
pub fn read_parquet_column(path: &Path, name: &str) -> Result<Vec<String>, DatasetError> {
    use arrow_array::cast::AsArray;
    let file = File::open(path).map_err(io_err(path))?;
    let perr = |source: parquet::errors::ParquetError| DatasetError::Parquet { path: path.to_path_buf(), source };
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(perr)?;
    let Some(idx) = builder.schema().fields().iter().position(|f| f.name() == name) else { return Ok(Vec::new()) };
    let mask = parquet::arrow::ProjectionMask::roots(builder.parquet_schema(), [idx]);
    let reader = builder.with_projection(mask).with_batch_size(65_536).build().map_err(perr)?;
    let mut out = Vec::new();
    for b in reader {
        let b = b.map_err(|e| perr(e.into()))?;
        let c = b.column(0);
        match c.as_string_opt::<i32>() {
            Some(s) => out.extend(s.iter().map(|v| v.unwrap_or_default().to_string())),
            None => out.extend(c.as_string::<i64>().iter().map(|v| v.unwrap_or_default().to_string())),
        }
    }
    Ok(out)
}

/// The batches of a Parquet file with only the `columns` it has among those named (the others
/// are not read at all).
pub fn read_parquet_projected(
    path: &Path,
    columns: &[&str],
    batch_size: usize,
) -> Result<impl Iterator<Item = Result<RecordBatch, DatasetError>>, DatasetError> {
    let file = File::open(path).map_err(io_err(path))?;
    let perr = |source: parquet::errors::ParquetError| DatasetError::Parquet { path: path.to_path_buf(), source };
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(perr)?;
    let idx: Vec<usize> = builder
        .schema()
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| columns.contains(&f.name().as_str()))
        .map(|(i, _)| i)
        .collect();
    let mask = parquet::arrow::ProjectionMask::roots(builder.parquet_schema(), idx);
    let reader = builder.with_projection(mask).with_batch_size(batch_size).build().map_err(perr)?;
    let path = path.to_path_buf();
    Ok(reader.map(move |r| r.map_err(|e| DatasetError::Parquet { path: path.clone(), source: e.into() })))
}

pub fn read_parquet_batches(
    path: &Path,
    batch_size: usize,
) -> Result<impl Iterator<Item = Result<RecordBatch, DatasetError>>, DatasetError> {
    let file = File::open(path).map_err(io_err(path))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.with_batch_size(batch_size).build())
        .map_err(|source| DatasetError::Parquet { path: path.to_path_buf(), source })?;
    let path = path.to_path_buf();
    Ok(reader.map(move |r| r.map_err(|e| DatasetError::Parquet { path: path.clone(), source: e.into() })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::{Codec, Counts};

    /// A manifest naming a part outside its folder (`../x`, `/x`) is refused, not followed.
    #[test]
    fn parts_outside_the_dataset_folder_are_refused() {
        let d = tempfile::tempdir().unwrap();
        for file in ["../elsewhere.parquet", "/etc/passwd", "", "a/../../b.parquet"] {
            let m = Manifest {
                stage: "ingest".into(),
                kbcurate_version: "0".into(),
                config: serde_json::Value::Null,
                inputs: serde_json::Value::Null,
                counts: Counts::default(),
                parts: vec![PartFile { file: file.into(), rows: 0, bytes: 0, xxh3: "0".repeat(16) }],
                rejected_parts: vec![],
                text_bytes: 0,
                compression: Codec::default(),
                stats: None,
            };
            m.write(d.path(), false).unwrap();
            let e = Dataset::open(d.path()).err().expect("refused").to_string();
            assert!(e.contains("not a path inside the dataset folder"), "{file}: {e}");
        }
    }
}
