//! Tasks: the pieces a part's inputs are cut into (a whole file, a chunk of lines, a tar member,
//! a Parquet batch), and the readers they run.

use std::io::Read;
use std::path::PathBuf;

use super::context::{CollectionPlan, Shared};
use super::error::IngestError;
use super::format::{self, Format};
use super::plan::Unit;
use super::source::{panic_message, Emit, ReadContext, ReadError, ReaderOptions};
use super::{alto, asr_json, ctm, hocr, input, jsonl, mets, page, parquet_input, subtitles, tei, text};
use crate::reject::Reason;

/// A piece of work inside a part.
pub(super) struct Task {
    pub(super) collection: usize,
    /// Provenance path (`file`, or `archive.tar!member`).
    pub(super) rel: String,
    pub(super) format: Option<Format>,
    pub(super) input_bytes: u64,
    pub(super) work: Work,
}

pub(super) enum Work {
    Whole(Vec<u8>),
    Lines { bytes: Vec<u8>, offset: u64 },
    Mets { path: PathBuf, bytes: Vec<u8> },
    Done(Vec<Emit>),
    Failed(ReadError),
}

impl Task {
    pub(super) fn weight(&self) -> usize {
        match &self.work {
            Work::Whole(b) | Work::Lines { bytes: b, .. } | Work::Mets { bytes: b, .. } => {
                b.len().max(self.input_bytes as usize)
            }
            // Parsed already (a Parquet batch): its documents' text, so that the window of work
            // in flight is bounded by bytes for Parquet inputs too.
            Work::Done(emits) => emits
                .iter()
                .map(|e| match e {
                    Emit::Doc(d) => d.text.len() + d.locator.len(),
                    Emit::Reject { detail, .. } | Emit::Warning { detail, .. } => detail.len(),
                })
                .sum::<usize>()
                .max(1024),
            Work::Failed(_) => 1024,
        }
    }

    /// Parses the task. Readers never panic on input, but if one ever did, the panic is caught
    /// and the task rejected, so a single bad file cannot take the run down.
    pub(super) fn run(&self, options: &ReaderOptions) -> Result<Vec<Emit>, ReadError> {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.run_inner(options)));
        result.unwrap_or_else(|p| {
            Err(ReadError::new(
                Reason::MalformedRecord,
                format!("reader failed unexpectedly (please report this input): {}", panic_message(&*p)),
            ))
        })
    }

    fn run_inner(&self, options: &ReaderOptions) -> Result<Vec<Emit>, ReadError> {
        let mut emits = Vec::new();
        let ctx = ReadContext { path: &self.rel, options };
        let mut out = |e: Emit| emits.push(e);
        match &self.work {
            Work::Done(e) => return Ok(e.clone()),
            Work::Failed(e) => return Err(e.clone()),
            Work::Lines { bytes, offset } => jsonl::read_lines(bytes, *offset, &ctx, &mut out)?,
            Work::Mets { path, bytes } => mets::read_package(path, bytes, &ctx, &mut out)?,
            Work::Whole(bytes) => {
                if bytes.iter().all(u8::is_ascii_whitespace) {
                    return Err(ReadError::new(Reason::EmptyFile, "the file is empty"));
                }
                let f = self
                    .format
                    .ok_or_else(|| ReadError::new(Reason::UnknownFormat, "no reader recognises this input"))?;
                read_whole(f, bytes, &ctx, &mut out)?;
            }
        }
        Ok(emits)
    }
}

fn read_whole(f: Format, bytes: &[u8], ctx: &ReadContext, out: &mut dyn FnMut(Emit)) -> Result<(), ReadError> {
    match f {
        Format::Alto => alto::read(bytes, ctx, out),
        Format::Hocr => hocr::read(bytes, ctx, out),
        Format::Page => page::read(bytes, ctx, out),
        Format::Tei => tei::read(bytes, ctx, out),
        Format::Srt => subtitles::read_srt(bytes, ctx, out),
        Format::Vtt => subtitles::read_vtt(bytes, ctx, out),
        Format::Ctm => ctm::read(bytes, ctx, out),
        Format::AsrJson => asr_json::read(bytes, ctx, out),
        Format::Text => text::read(bytes, ctx, out),
        Format::Jsonl => jsonl::read_lines(bytes, 1, ctx, out),
        Format::Mets => Err(ReadError::new(
            Reason::UnknownFormat,
            "a METS package inside an archive cannot reach its pages; unpack the archive and ingest the folder",
        )),
        Format::Parquet => parquet_input::read(bytes::Bytes::copy_from_slice(bytes), ctx, &mut |e| {
            e.into_iter().for_each(&mut *out);
            Ok(())
        }),
        Format::Tar => {
            Err(ReadError::new(Reason::UnknownFormat, "archives inside archives are not read; unpack the outer one"))
        }
    }
}

/// Cuts one input unit into tasks.
pub(super) fn produce(
    sh: &Shared,
    unit: &Unit,
    push: &mut dyn FnMut(Task) -> Result<(), IngestError>,
) -> Result<(), IngestError> {
    let cp = &sh.colls[unit.collection];
    let task = |format: Option<Format>, rel: &str, input_bytes: u64, work: Work| Task {
        collection: unit.collection,
        rel: rel.to_string(),
        format,
        input_bytes,
        work,
    };
    let format = match &unit.format {
        Ok(f) => *f,
        Err(e) => return push(task(None, &unit.rel, unit.size, Work::Failed(e.clone()))),
    };
    let io_fail = |e: std::io::Error| -> Work {
        let reason = match e.kind() {
            std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::Other => {
                Reason::CorruptCompression
            }
            _ => Reason::IoError,
        };
        Work::Failed(ReadError::new(reason, e.to_string()))
    };
    match format {
        Format::Mets => {
            let limit = max_file_bytes(&cp.options, format);
            let work = match input::read_file_bounded(&unit.path, limit) {
                Ok(Ok(bytes)) => Work::Mets { path: unit.path.clone(), bytes },
                Ok(Err(n)) => Work::Failed(ReadError::new(
                    Reason::TooLarge,
                    format!("more than {} bytes; the limit for a METS file is {limit} bytes (max_doc_mb × 4)", n - 1),
                )),
                Err(e) => io_fail(e),
            };
            push(task(Some(format), &unit.rel, unit.size, work))
        }
        Format::Parquet => {
            let file = match std::fs::File::open(&unit.path) {
                Ok(f) => f,
                Err(e) => return push(task(Some(format), &unit.rel, unit.size, io_fail(e))),
            };
            let ctx = ReadContext { path: &unit.rel, options: &cp.options };
            let mut first = true;
            // Decoded here, in the producer, not in a task; `read` guards the decoder itself.
            let res = parquet_input::read(file, &ctx, &mut |emits| {
                let bytes = if std::mem::take(&mut first) { unit.size } else { 0 };
                push(task(Some(format), &unit.rel, bytes, Work::Done(emits)))
                    .map_err(|e| ReadError::new(Reason::IoError, e.to_string()))
            });
            match res {
                Ok(()) => Ok(()),
                Err(e) => push(task(Some(format), &unit.rel, if first { unit.size } else { 0 }, Work::Failed(e))),
            }
        }
        Format::Tar => produce_tar(sh, unit, push),
        f if f.is_line_oriented() => {
            let opened = match unit.range {
                // A range of an uncompressed file (see plan::line_ranges).
                Some((start, end)) => std::fs::File::open(&unit.path).and_then(|mut file| {
                    use std::io::{Seek, SeekFrom};
                    file.seek(SeekFrom::Start(start))?;
                    Ok((
                        Box::new(std::io::BufReader::with_capacity(1 << 20, file).take(end - start))
                            as Box<dyn Read + Send>,
                        start,
                    ))
                }),
                None => input::open(&unit.path).map(|(r, _)| (r, 0)),
            };
            let (reader, start) = match opened {
                Ok(r) => r,
                Err(e) => return push(task(Some(f), &unit.rel, unit.size, io_fail(e))),
            };
            produce_lines(unit.collection, &unit.rel, f, reader, start, cp, sh.opts.chunk, unit.size, push)
        }
        f => {
            let work = match input::open(&unit.path) {
                Ok((mut r, _)) => match input::read_bounded(&mut r, max_file_bytes(&cp.options, f), unit.size) {
                    Ok(Ok(bytes)) => Work::Whole(bytes),
                    Ok(Err(n)) => Work::Failed(ReadError::new(
                        Reason::TooLarge,
                        format!(
                            "more than {} bytes; the limit for a {f} file is {} bytes (max_doc_mb{})",
                            n - 1,
                            max_file_bytes(&cp.options, f),
                            if f == Format::Text { "" } else { " × 4 for markup" }
                        ),
                    )),
                    Err(e) => io_fail(e),
                },
                Err(e) => io_fail(e),
            };
            push(task(Some(f), &unit.rel, unit.size, work))
        }
    }
}

/// Markup-heavy formats hold several bytes of file per byte of text.
fn max_file_bytes(o: &ReaderOptions, f: Format) -> usize {
    match f {
        Format::Text => o.max_doc_bytes,
        _ => o.max_doc_bytes.saturating_mul(4),
    }
}

#[allow(clippy::too_many_arguments)]
fn produce_lines(
    collection: usize,
    rel: &str,
    f: Format,
    reader: impl Read,
    start: u64,
    cp: &CollectionPlan,
    chunk: usize,
    size: u64,
    push: &mut dyn FnMut(Task) -> Result<(), IngestError>,
) -> Result<(), IngestError> {
    let max_line = cp.options.max_doc_bytes;
    let mut accounted = 0u64;
    // Whether the input had anything but whitespace: an empty file is rejected, not skipped.
    let mut content = false;
    for c in input::LineChunker::new(reader, chunk, max_line).starting_at(start) {
        match c {
            Ok(c) => {
                content = content || !c.oversized.is_empty() || c.bytes.iter().any(|b| !b.is_ascii_whitespace());
                let mut emits: Vec<Emit> = c
                    .oversized
                    .iter()
                    .map(|(offset, n)| Emit::Reject {
                        locator: format!("offset={offset}"),
                        reason: Reason::TooLarge,
                        detail: format!("a {n}-byte line exceeds max_doc_bytes {max_line}"),
                    })
                    .collect();
                // Share the file's size among chunks for the progress bar (decompressed sizes differ).
                let share = c.input_bytes.min(size.saturating_sub(accounted));
                accounted += share;
                if !emits.is_empty() {
                    push(Task {
                        collection,
                        rel: rel.into(),
                        format: Some(f),
                        input_bytes: if c.bytes.is_empty() { share } else { 0 },
                        work: Work::Done(std::mem::take(&mut emits)),
                    })?;
                }
                if !c.bytes.is_empty() {
                    push(Task {
                        collection,
                        rel: rel.into(),
                        format: Some(f),
                        input_bytes: share,
                        work: Work::Lines { bytes: c.bytes, offset: c.offset },
                    })?;
                }
            }
            Err(e) => {
                let reason = if input::is_expansion_limit(&e) {
                    Reason::TooLarge
                } else if matches!(
                    e.kind(),
                    std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::Other
                ) {
                    Reason::CorruptCompression
                } else {
                    Reason::IoError
                };
                return push(Task {
                    collection,
                    rel: rel.into(),
                    format: Some(f),
                    input_bytes: size.saturating_sub(accounted),
                    work: Work::Failed(ReadError::new(reason, format!("stopped reading: {e}"))),
                });
            }
        }
    }
    if !content && start == 0 {
        return push(Task {
            collection,
            rel: rel.into(),
            format: Some(f),
            input_bytes: size.saturating_sub(accounted),
            work: Work::Failed(ReadError::new(Reason::EmptyFile, "the file is empty")),
        });
    }
    if accounted < size {
        // Compressed inputs: the rest of the file's bytes for the progress bar.
        push(Task {
            collection,
            rel: rel.into(),
            format: Some(f),
            input_bytes: size - accounted,
            work: Work::Done(Vec::new()),
        })?;
    }
    Ok(())
}

fn produce_tar(
    sh: &Shared,
    unit: &Unit,
    push: &mut dyn FnMut(Task) -> Result<(), IngestError>,
) -> Result<(), IngestError> {
    let cp = &sh.colls[unit.collection];
    let fail = |reason: Reason, detail: String, rel: &str, bytes: u64| Task {
        collection: unit.collection,
        rel: rel.to_string(),
        format: Some(Format::Tar),
        input_bytes: bytes,
        work: Work::Failed(ReadError::new(reason, detail)),
    };
    let reader = match input::open(&unit.path) {
        Ok((r, _)) => r,
        Err(e) => return push(fail(Reason::IoError, e.to_string(), &unit.rel, unit.size)),
    };
    let mut archive = tar::Archive::new(reader);
    let entries = match archive.entries() {
        Ok(e) => e,
        Err(e) => return push(fail(Reason::CorruptArchive, e.to_string(), &unit.rel, unit.size)),
    };
    let mut members = 0usize;
    for entry in entries {
        let mut entry = match entry {
            Ok(e) => e,
            Err(e) => {
                return push(fail(Reason::CorruptArchive, format!("after {members} members: {e}"), &unit.rel, 0));
            }
        };
        let member = entry.path().map(|p| p.to_path_buf()).unwrap_or_default();
        let member_str = member.to_string_lossy().replace('\\', "/");
        let rel = format!("{}!{}", unit.rel, member_str);
        let kind = entry.header().entry_type();
        if kind.is_dir() || kind.is_pax_global_extensions() || kind.is_pax_local_extensions() || kind.is_gnu_longname()
        {
            continue;
        }
        members += 1;
        if !input::safe_member_path(&member) {
            push(fail(
                Reason::UnsafeArchivePath,
                format!("member path `{member_str}` leaves the archive; skipped"),
                &rel,
                0,
            ))?;
            continue;
        }
        if kind.is_symlink() || kind.is_hard_link() {
            push(fail(
                Reason::UnsafeArchivePath,
                format!("member `{member_str}` is a link; links are not followed"),
                &rel,
                0,
            ))?;
            continue;
        }
        if kind.is_dir() {
            continue;
        }
        // Every other member is read or accounted for: a device, FIFO or anything else that is
        // not a file is named in `rejected/`, never skipped without a word. (GNU sparse files
        // are files: the reader gives their data back whole.)
        if !kind.is_file() && !kind.is_gnu_sparse() {
            push(fail(
                Reason::UnsafeArchivePath,
                format!("member `{member_str}` is not a regular file ({kind:?}); only files are read"),
                &rel,
                0,
            ))?;
            continue;
        }
        let name = member.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        let size = entry.size();
        let mut head = [0u8; 4];
        let limit = max_file_bytes(&cp.options, Format::Tar);
        let raw = match input::read_bounded(&mut entry, limit, size) {
            Ok(Ok(b)) => b,
            Ok(Err(_)) => {
                push(fail(Reason::TooLarge, format!("member of {size} bytes exceeds {limit}"), &rel, 0))?;
                continue;
            }
            Err(e) => return push(fail(Reason::CorruptArchive, format!("member `{member_str}`: {e}"), &rel, 0)),
        };
        let n = raw.len().min(4);
        head[..n].copy_from_slice(&raw[..n]);
        let bytes = match format::Compression::sniff(&head) {
            format::Compression::None => raw,
            c => {
                let packed = raw.len() as u64;
                let mut r = match input::decompress(Box::new(std::io::Cursor::new(raw)), c, packed) {
                    Ok(r) => r,
                    Err(e) => {
                        push(fail(Reason::CorruptCompression, e.to_string(), &rel, 0))?;
                        continue;
                    }
                };
                match input::read_bounded(&mut r, limit, 0) {
                    Ok(Ok(b)) => b,
                    Ok(Err(_)) => {
                        push(fail(
                            Reason::TooLarge,
                            format!("member decompresses to more than {limit} bytes"),
                            &rel,
                            0,
                        ))?;
                        continue;
                    }
                    Err(e) => {
                        push(fail(Reason::CorruptCompression, e.to_string(), &rel, 0))?;
                        continue;
                    }
                }
            }
        };
        let detected = format::detect(&name, &bytes[..bytes.len().min(8192)]);
        let f = cp.c.format.filter(|f| *f != Format::Tar).or(detected);
        let t = |work| Task { collection: unit.collection, rel: rel.clone(), format: f, input_bytes: 0, work };
        match f {
            Some(f) if f.is_line_oriented() => {
                produce_lines(unit.collection, &rel, f, std::io::Cursor::new(bytes), 0, cp, sh.opts.chunk, 0, push)?
            }
            Some(_) => push(t(Work::Whole(bytes)))?,
            None if bytes.iter().all(u8::is_ascii_whitespace) => {
                push(t(Work::Failed(ReadError::new(Reason::EmptyFile, "the member is empty"))))?
            }
            None => push(t(Work::Failed(ReadError::new(Reason::UnknownFormat, "no reader recognises this member"))))?,
        }
    }
    // Account the archive's bytes once, at its end.
    push(Task {
        collection: unit.collection,
        rel: unit.rel.clone(),
        format: Some(Format::Tar),
        input_bytes: unit.size,
        work: Work::Done(Vec::new()),
    })
}
