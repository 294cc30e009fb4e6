//! `kbcurate ingest` on the bundled samples and on bad input: outcomes, reconciled counts,
//! determinism across thread counts, resume after an interruption.

mod common;

use std::io::Write;

use common::*;
use kbcurate::dataset::{Dataset, Manifest};
use kbcurate::ingest::config::IngestConfig;

fn samples_config() -> IngestConfig {
    IngestConfig::from_file(&repo().join("data-samples/collections.toml")).unwrap()
}

#[test]
fn bundled_samples_give_the_expected_documents() {
    let out = tempfile::tempdir().unwrap();
    let s = run(&samples_config(), &repo().join("data-samples"), out.path(), |_| {});
    assert!(s.counts.reconciles(), "{:?}", s.counts);
    let m = Manifest::read(out.path()).unwrap();
    assert_eq!(m.counts, s.counts);
    assert_eq!(m.counts.warnings.get("missing-page"), Some(&1), "the 1897-03-12 METS lists a page that is not there");

    let docs = documents(out.path());
    let issue = docs.iter().find(|d| d.path == "newspapers/stockholms-kuriren/1897-03-12/mets.xml").unwrap();
    assert_eq!(issue.genre.as_deref(), Some("newspaper"));
    assert_eq!(issue.source.as_deref(), Some("Stockholms Kurir"));
    assert_eq!((issue.year, issue.decade), (Some(1897), Some(1890)));
    assert_eq!(issue.date, Some(kbcurate::date::days_from_civil(1897, 3, 12)));
    assert_eq!(issue.language.as_deref(), Some("swe"));
    for joined in ["tidningen", "hufvudstaden,", "ångaren", "Frederikshavn,", "Direktionen"] {
        assert!(issue.text.split_whitespace().any(|w| w == joined), "hyphenated `{joined}` joined");
    }
    assert!(!issue.text.contains("tid ningen") && !issue.text.contains("tid-"));
    let c = issue.ocr_confidence.unwrap();
    assert!((0.8..0.99).contains(&c), "{c}");
    let meta: serde_json::Value = serde_json::from_str(&issue.meta).unwrap();
    assert_eq!(meta["missing_pages"], serde_json::json!(["file://./ALTO/0003.xml"]));
    assert_eq!(meta["pages_read"], 2);

    let srt = docs.iter().find(|d| d.format == "srt").unwrap();
    assert_eq!(srt.genre.as_deref(), Some("transcript"));
    assert_eq!(srt.year, Some(1962));
    assert!(srt.duration_s.unwrap() >= 170.0, "{:?}", srt.duration_s);
    let tei = docs.iter().find(|d| d.format == "tei").unwrap();
    assert_eq!(tei.year, Some(1911));
    let hocr = docs.iter().find(|d| d.format == "hocr").unwrap();
    assert_eq!(hocr.year, Some(1923));
    assert!(hocr.ocr_confidence.is_some());

    // Every id is unique; every document is counted once.
    let mut ids: Vec<&str> = docs.iter().map(|d| d.id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len() as u64, m.counts.kept);

    // The bad inputs are in rejected/ with their reasons, and nothing else is.
    let rej = rejections(out.path());
    let reason_of = |p: &str| rej.iter().filter(|r| r.path == p).map(|r| r.reason.clone()).collect::<Vec<_>>();
    assert_eq!(reason_of("bad/malformed.alto.xml"), ["malformed-xml"]);
    assert_eq!(reason_of("bad/billion-laughs.xml"), ["xml-entities"]);
    assert_eq!(reason_of("bad/empty.txt"), ["empty-file"]);
    assert_eq!(reason_of("bad/not-a-format.bin"), ["unknown-format"]);
    assert_eq!(reason_of("bad/broken.jsonl"), ["malformed-json", "malformed-record"]);
    // 4 kB of zstd that would stream 128 MiB of one line: stopped at the expansion limit.
    assert_eq!(reason_of("bad/bomb.jsonl.zst"), ["too-large"]);
    let bomb = rej.iter().find(|r| r.path == "bad/bomb.jsonl.zst").unwrap();
    assert!(bomb.detail.contains("decompression bomb"), "{}", bomb.detail);
    assert_eq!(rej.len() as u64, m.counts.rejected_total());
    assert!(rej.iter().all(|r| r.path.starts_with("bad/")), "{rej:?}");
    assert!(rej.iter().all(|r| !r.detail.is_empty() && r.stage == "ingest"));
}

#[test]
fn manifest_checksums_match_the_files() {
    let out = tempfile::tempdir().unwrap();
    run(&samples_config(), &repo().join("data-samples"), out.path(), |_| {});
    let m = Manifest::read(out.path()).unwrap();
    for p in m.parts.iter().chain(&m.rejected_parts) {
        let bytes = std::fs::read(out.path().join(&p.file)).unwrap();
        assert_eq!(p.bytes, bytes.len() as u64);
        assert_eq!(p.xxh3, format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&bytes)));
    }
    let rows: u64 = m.parts.iter().map(|p| p.rows).sum();
    assert_eq!(rows, m.counts.kept);
    assert!(!files(out.path()).iter().any(|(f, _)| f.contains(".tmp-")));
}

#[test]
fn output_is_byte_identical_whatever_the_thread_count() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    // Small parts, windows and chunks so that both runs really split the work.
    let small = |threads| {
        move |o: &mut kbcurate::ingest::IngestOptions| {
            o.threads = Some(threads);
            o.part_size = 20_000;
            o.window = 4096;
            o.chunk = 512;
        }
    };
    let sa = run(&samples_config(), &repo().join("data-samples"), a.path(), small(1));
    run(&samples_config(), &repo().join("data-samples"), b.path(), small(4));
    assert!(sa.parts > 3, "{} parts", sa.parts);
    assert_eq!(files(a.path()), files(b.path()));
}

#[test]
fn an_interrupted_run_resumes_and_gives_the_same_dataset() {
    let full = tempfile::tempdir().unwrap();
    let small = |o: &mut kbcurate::ingest::IngestOptions| o.part_size = 20_000;
    let s = run(&samples_config(), &repo().join("data-samples"), full.path(), small);
    let resumed = tempfile::tempdir().unwrap();
    run(&samples_config(), &repo().join("data-samples"), resumed.path(), small);
    // Simulate a crash in the middle of part 1 and before the manifest was written.
    let dir = resumed.path();
    std::fs::remove_file(dir.join("manifest.json")).unwrap();
    std::fs::remove_file(dir.join("_parts/part-00001.json")).unwrap();
    std::fs::rename(dir.join("data/part-00001.parquet"), dir.join("data/.tmp-part-00001.parquet")).unwrap();
    std::fs::write(dir.join("data/part-00099.parquet"), b"left over from a bigger plan").unwrap();
    let s2 = run(&samples_config(), &repo().join("data-samples"), dir, small);
    assert_eq!(s2.parts_resumed, s.parts - 1);
    assert_eq!(files(full.path()), files(dir));
}

#[test]
fn reading_a_dataset_back_streams_all_documents() {
    let out = tempfile::tempdir().unwrap();
    let s = run(&samples_config(), &repo().join("data-samples"), out.path(), |_| {});
    let ds = Dataset::open(out.path()).unwrap();
    assert_eq!(ds.documents().count() as u64, s.counts.kept);
    let text = kbcurate::inspect::inspect(out.path(), 3, 80).unwrap();
    let c = &s.counts;
    let line = format!("counts    in {} = kept {} + rejected {}\n", c.input, c.kept, c.rejected_total());
    assert!(c.kept > 0 && c.rejected_total() > 0 && text.contains(&line), "want {line:?} in\n{text}");
    // Three documents shown, each with its id.
    let ids: Vec<String> = ds.documents().take(3).map(|d| d.unwrap().id[..12].to_string()).collect();
    assert!(ids.iter().all(|id| text.contains(&format!("\n{id}  "))), "{text}");
}

/// Bad input of every kind: each gets a clear reason, the run finishes, counts reconcile.
#[test]
fn bad_inputs_are_rejected_with_reasons() {
    let input = tempfile::tempdir().unwrap();
    let d = input.path();
    // A JSONL whose gzip stream is cut off in the middle.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    for i in 0..2000 {
        writeln!(gz, "{{\"text\": \"rad nummer {i} med lite text för att fylla ut\"}}").unwrap();
    }
    let gz = gz.finish().unwrap();
    std::fs::write(d.join("cut.jsonl.gz"), &gz[..gz.len() / 2]).unwrap();
    // Invalid UTF-8 in plain text: repaired and counted, not rejected.
    std::fs::write(d.join("latin1.txt"), b"Sm\xf6rg\xe5sbord och k\xe4rlek\n").unwrap();
    // A zstd-compressed text file.
    std::fs::write(d.join("notis.txt.zst"), zstd::encode_all("Zstd-packad notis.".as_bytes(), 3).unwrap()).unwrap();
    // A tar with a safe member, a member escaping with ../, and an absolute one.
    {
        let mut tar = tar::Builder::new(Vec::new());
        let mut add = |name: &str, body: &[u8]| {
            let mut h = tar::Header::new_gnu();
            h.set_size(body.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            // set_path refuses `..`; write the raw name like a hostile archive would.
            let raw = &mut h.as_old_mut().name;
            raw[..name.len()].copy_from_slice(name.as_bytes());
            h.set_cksum();
            tar.append(&h, body).unwrap();
        };
        add("ok/brev.txt", "Ett brev i ett arkiv.".as_bytes());
        add("../../escape.txt", b"should never be read");
        add("/etc/evil.txt", b"nor this");
        add("ok/poster.jsonl", b"{\"text\": \"a\"}\n{\"text\": \"b\"}\n");
        std::fs::write(d.join("arkiv.tar"), tar.into_inner().unwrap()).unwrap();
    }
    // A single line far over the document size limit.
    {
        let mut f = std::fs::File::create(d.join("huge.jsonl")).unwrap();
        f.write_all(b"{\"text\": \"").unwrap();
        let block = vec![b'a'; 1 << 20];
        for _ in 0..3 {
            f.write_all(&block).unwrap();
        }
        f.write_all(b"\"}\n{\"text\": \"efter\"}\n").unwrap();
    }
    // Empty inputs of a declared line format are rejected too, not skipped.
    std::fs::write(d.join("tom.jsonl"), b"\n\n  \n").unwrap();
    let cfg = config("[defaults]\nmax_doc_mb = 1\n[[collection]]\nname = \"bad\"\npaths = [\"*\"]\n");
    let out = tempfile::tempdir().unwrap();
    let s = run(&cfg, d, out.path(), |o| o.chunk = 64 << 10);
    assert!(s.counts.reconciles());
    let rej = rejections(out.path());
    let has = |path: &str, reason: &str| rej.iter().any(|r| r.path == path && r.reason == reason);
    assert!(has("cut.jsonl.gz", "corrupt-compression"), "{rej:#?}");
    assert!(has("arkiv.tar!../../escape.txt", "unsafe-archive-path"), "{rej:#?}");
    assert!(has("arkiv.tar!/etc/evil.txt", "unsafe-archive-path"), "{rej:#?}");
    assert!(has("huge.jsonl", "too-large"), "{rej:#?}");
    assert!(has("tom.jsonl", "empty-file"), "{rej:#?}");
    assert!(!out.path().parent().unwrap().join("escape.txt").exists());
    let docs = documents(out.path());
    let texts: Vec<&str> = docs.iter().map(|d| d.text.as_str()).collect();
    assert!(texts.contains(&"Ett brev i ett arkiv."));
    assert!(texts.contains(&"efter"), "the line after the huge one is read");
    assert!(texts.contains(&"Zstd-packad notis."));
    let latin = docs.iter().find(|d| d.path == "latin1.txt").unwrap();
    assert!(latin.text.starts_with("Sm\u{FFFD}rg\u{FFFD}sbord"));
    assert!(latin.meta.contains("\"utf8_repaired_bytes\":3"), "{}", latin.meta);
    let cut: Vec<_> = docs.iter().filter(|d| d.path == "cut.jsonl.gz").collect();
    assert!(!cut.is_empty(), "the lines before the cut are kept");
    let member = docs.iter().find(|d| d.path == "arkiv.tar!ok/poster.jsonl" && d.locator == "offset=14").unwrap();
    assert_eq!(member.text, "b");
}

/// A big JSONL file is split over parts at line boundaries; the documents are the same as when
/// it is read in one piece, in the same order, with the same ids.
#[test]
fn a_big_jsonl_file_split_over_parts_gives_the_same_documents() {
    let input = tempfile::tempdir().unwrap();
    let mut f = std::fs::File::create(input.path().join("big.jsonl")).unwrap();
    for i in 0..3000 {
        writeln!(
            f,
            "{{\"text\": \"Notis nummer {i}: isen låg kvar på Mälaren.\", \"date\": \"19{:02}-01-01\"}}",
            i % 100
        )
        .unwrap();
    }
    drop(f);
    let cfg = config("[[collection]]\nname = \"n\"\npaths = [\"big.jsonl\"]\n");
    let whole = tempfile::tempdir().unwrap();
    let split = tempfile::tempdir().unwrap();
    let a = run(&cfg, input.path(), whole.path(), |_| {});
    let b = run(&cfg, input.path(), split.path(), |o| {
        o.part_size = 10_000;
        o.chunk = 1000;
    });
    assert_eq!(a.parts, 1);
    assert!(b.parts > 10, "{} parts", b.parts);
    let key = |d: &kbcurate::document::Document| (d.id.clone(), d.locator.clone(), d.text.clone(), d.year);
    let da: Vec<_> = documents(whole.path()).iter().map(key).collect();
    let db: Vec<_> = documents(split.path()).iter().map(key).collect();
    assert_eq!(da.len(), 3000);
    assert_eq!(da, db);
}

/// A tree with a link back up, a link to itself, a link out of the input and a link to a
/// device: ingest ends (it used to loop until memory ran out), reads each file once, reads
/// nothing from outside the input unless asked, and names what it did not follow.
#[cfg(unix)]
#[test]
fn hostile_links_end_and_are_named() {
    use std::os::unix::fs::symlink;
    let d = tempfile::tempdir().unwrap();
    let (input, elsewhere) = (d.path().join("in"), d.path().join("elsewhere"));
    std::fs::create_dir_all(input.join("sub")).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::write(input.join("a.txt"), "Stockholm den 12 mars 1897.\n").unwrap();
    std::fs::write(input.join("sub/b.txt"), "Göteborg den 3 april 1901.\n").unwrap();
    std::fs::write(elsewhere.join("foreign.txt"), "Not part of the collection.\n").unwrap();
    symlink("..", input.join("sub/up")).unwrap();
    symlink(".", input.join("self")).unwrap();
    symlink(&elsewhere, input.join("docs")).unwrap();
    symlink("/dev/zero", input.join("zero.txt")).unwrap();
    let cfg = config("[[collection]]\nname = \"c\"\npaths = [\"in\"]\nformat = \"text\"\n");
    let out = d.path().join("out");
    let s = run(&cfg, d.path(), &out, |_| {});
    assert_eq!((s.counts.input, s.counts.kept), (2, 2), "{:?}", s.counts);
    assert_eq!(s.links_skipped, 2, "the link out and the device");
    assert!(s.render().contains("2 symbolic links not followed"), "{}", s.render());
    let m = Manifest::read(&out).unwrap();
    let inputs = m.inputs.to_string();
    assert!(inputs.contains("in/docs") && inputs.contains("leaves the input folder"), "{inputs}");
    assert!(inputs.contains("in/zero.txt"), "{inputs}");
    // Asked to, ingest follows the link out, and still never reads the device.
    let out2 = d.path().join("out2");
    let s = run(&cfg, d.path(), &out2, |o| o.follow_links = true);
    assert_eq!((s.counts.kept, s.links_skipped), (3, 1), "{:?}", s.counts);
    let inputs = Manifest::read(&out2).unwrap().inputs.to_string();
    assert!(inputs.contains("in/zero.txt") && inputs.contains("not a regular file"), "{inputs}");
}

/// A METS page that links to a device (`ALTO/0002.xml -> /dev/zero`) is a missing page with a
/// reason, not an endless read: the issue is ingested from its other page.
#[cfg(unix)]
#[test]
fn a_mets_page_linking_to_a_device_is_not_read() {
    let d = tempfile::tempdir().unwrap();
    let issue = d.path().join("1897-03-12");
    std::fs::create_dir_all(issue.join("ALTO")).unwrap();
    let from = repo().join("data-samples/newspapers/stockholms-kuriren/1897-03-12");
    std::fs::copy(from.join("mets.xml"), issue.join("mets.xml")).unwrap();
    std::fs::copy(from.join("ALTO/0001.xml"), issue.join("ALTO/0001.xml")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", issue.join("ALTO/0002.xml")).unwrap();
    let cfg = config("[[collection]]\nname = \"k\"\npaths = [\"*/mets.xml\"]\nformat = \"mets\"\n");
    let out = d.path().join("out");
    let s = run(&cfg, d.path(), &out, |_| {});
    assert_eq!(s.counts.kept, 1, "{:?}", s.counts);
    // 0002 links to a device, 0003 is absent from the sample on purpose.
    assert_eq!(s.counts.warnings.get("missing-page"), Some(&2), "{:?}", s.counts);
    let docs = documents(&out);
    assert!(docs[0].meta.contains("0002.xml"), "the page is named: {}", docs[0].meta);
}

/// Every member of a tar archive is read or accounted for: a FIFO and a character device are
/// rejected with a reason (they used to vanish without a row), the files beside them are read.
#[test]
fn tar_members_that_are_not_files_are_rejected_by_name() {
    let d = tempfile::tempdir().unwrap();
    let mut b = tar::Builder::new(std::fs::File::create(d.path().join("box.tar")).unwrap());
    let mut add = |name: &str, kind: tar::EntryType, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, data).unwrap();
    };
    add("a.txt", tar::EntryType::Regular, b"Stockholm den 12 mars 1897.\n");
    add("pipe", tar::EntryType::Fifo, b"");
    add("zero", tar::EntryType::Char, b"");
    add("sub", tar::EntryType::Directory, b"");
    add("sub/b.txt", tar::EntryType::Regular, b"Uppsala den 1 maj 1900.\n");
    b.finish().unwrap();
    drop(b);
    let cfg = config("[[collection]]\nname = \"t\"\npaths = [\"box.tar\"]\n");
    let out = d.path().join("out");
    let s = run(&cfg, d.path(), &out, |_| {});
    assert_eq!(s.counts.kept, 2, "{:?}", s.counts);
    assert_eq!(s.counts.rejected.get("unsafe-archive-path"), Some(&2), "{:?}", s.counts);
    assert!(s.counts.reconciles());
    let rejected = kbcurate::dataset::Dataset::open(&out).unwrap().rejections().unwrap();
    let details: Vec<&str> = rejected.iter().map(|r| r.detail.as_str()).collect();
    assert!(details.iter().any(|d| d.contains("`pipe`") && d.contains("Fifo")), "{details:?}");
    assert!(details.iter().any(|d| d.contains("`zero`") && d.contains("Char")), "{details:?}");
}

/// A disk that corrupts bytes without changing a size: a resume reads each complete part back
/// and redoes the one whose bytes are not those its marker recorded, instead of carrying the
/// damage downstream.
#[test]
fn a_part_with_flipped_bytes_is_redone_on_resume() {
    let out = tempfile::tempdir().unwrap();
    let base = repo().join("data-samples");
    let first = run(&samples_config(), &base, out.path(), |o| o.part_size = 8 << 10);
    assert!(first.parts >= 2, "several parts: {}", first.parts);
    let part = out.path().join("data/part-00000.parquet");
    let good = std::fs::read(&part).unwrap();
    let mut bad = good.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x40;
    std::fs::write(&part, &bad).unwrap();
    let again = run(&samples_config(), &base, out.path(), |o| o.part_size = 8 << 10);
    assert_eq!(again.parts_resumed, first.parts - 1, "every other part is reused");
    assert_eq!(std::fs::read(&part).unwrap(), good, "the damaged part is written again");
}

/// An input edited to the same length is seen as changed: by its modification time, or, with
/// `hash_inputs`, by its content even when the time was put back.
#[test]
fn an_input_edited_to_the_same_length_is_read_again() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    let page = |word: &str| format!("{word} ").repeat(1200);
    for name in ["a", "b", "c"] {
        std::fs::write(input.join(format!("{name}.txt")), page(&format!("{name}{name}{name}"))).unwrap();
    }
    let cfg = common::config("[[collection]]\nname = \"t\"\npaths = [\"in\"]\nformat = \"text\"\n");
    let texts = |out: &std::path::Path| documents(out).into_iter().map(|d| d.text).collect::<Vec<_>>();
    for hash_inputs in [false, true] {
        let out = dir.path().join(format!("out-{hash_inputs}"));
        let go = || {
            run(&cfg, dir.path(), &out, |o| {
                o.part_size = 4096;
                o.hash_inputs = hash_inputs;
            })
        };
        let first = go();
        assert_eq!(first.parts, 3);
        let b = input.join("b.txt");
        let before = std::fs::metadata(&b).unwrap().modified().unwrap();
        let word = if hash_inputs { "BBB" } else { "bbB" };
        std::fs::write(&b, page(word)).unwrap();
        if hash_inputs {
            // The time put back: only the content tells.
            std::fs::File::options().write(true).open(&b).unwrap().set_modified(before).unwrap();
        }
        let again = go();
        assert_eq!(again.parts_resumed, 2, "hash_inputs = {hash_inputs}");
        assert!(texts(&out).iter().any(|t| t.starts_with(word)), "the edit is read (hash_inputs = {hash_inputs})");
    }
}
