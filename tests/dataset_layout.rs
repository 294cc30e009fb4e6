//! The dataset folder's layout: the kept documents in `data/`, apart from `rejected/`, the
//! manifest and the resume markers.
//!
//! - Parquet readers pointed at `DATASET/data` (pyarrow, polars, DuckDB, Hugging Face
//!   `datasets`) read exactly the kept documents, where a `**` glob from `DATASET` also reads
//!   the rejected rows. Needs the venv made by `scripts/readers-venv.sh` (cached under
//!   /var/tmp; override with KBCURATE_READERS_VENV); skips, saying why, where it is missing.
//! - A dataset in the layout of earlier versions (parts at the top of the folder) is still read
//!   by the next stage, through its manifest, and a stage rerun into such a folder redoes its
//!   parts under `data/` instead of resuming them.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use kbcurate::dataset::{Dataset, Manifest, Shard};
use kbcurate::filter::stage::{filter, FilterOptions};

/// The filter samples ingested in small parts (several parts, 12 documents).
fn ingest_samples(out: &Path) {
    let dir = repo().join("data-samples/filter");
    let text = std::fs::read_to_string(dir.join("collections.toml")).unwrap();
    run(&config(&text), &dir, out, |o| o.part_size = 600);
}

fn samples_config() -> kbcurate::ingest::config::IngestConfig {
    config(&std::fs::read_to_string(repo().join("data-samples/filter/collections.toml")).unwrap())
}

fn venv_python() -> Option<PathBuf> {
    let venv = std::env::var("KBCURATE_READERS_VENV").unwrap_or_else(|_| "/var/tmp/kbcurate-readers-venv".into());
    let py = Path::new(&venv).join("bin/python");
    if !py.exists() {
        skip("readers", &format!("{} not found (run scripts/readers-venv.sh to build it)", py.display()));
        return None;
    }
    let ok = Command::new(&py)
        .args(["-c", "import pyarrow, polars, duckdb, datasets"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        skip(
            "readers",
            &format!(
                "{} cannot import pyarrow, polars, duckdb and datasets (rerun scripts/readers-venv.sh)",
                py.display()
            ),
        );
        return None;
    }
    Some(py)
}

/// Counts the rows each reader reads, the usual way, from `sys.argv[1]` (a dataset folder):
/// a JSON object of reader → count, or → "error: ..." where the reader failed.
const COUNT: &str = r#"
import json, os, sys
root = sys.argv[1]
data = os.path.join(root, "data")

def pyarrow_dataset():
    import pyarrow.dataset as ds
    return ds.dataset(data, format="parquet").count_rows()

def pyarrow_read_table():
    import pyarrow.parquet as pq
    return pq.read_table(data).num_rows

def polars_folder():
    import polars as pl
    return pl.scan_parquet(data).select(pl.len()).collect().item()

def polars_glob():
    import polars as pl
    return pl.scan_parquet(os.path.join(data, "*.parquet")).select(pl.len()).collect().item()

def _duckdb_count(source):
    import duckdb
    return duckdb.connect().execute(f"SELECT count(*) FROM {source}").fetchone()[0]

def duckdb_glob():
    return _duckdb_count(f"read_parquet('{data}/*.parquet')")

def duckdb_recursive_glob():
    return _duckdb_count(f"read_parquet('{data}/**/*.parquet')")

def hf_parquet_data_dir():
    import datasets
    return datasets.load_dataset("parquet", data_dir=data, split="train").num_rows

def hf_folder():
    import datasets
    return datasets.load_dataset(data, split="train").num_rows

# What `data/` is for: the same glob from the dataset folder also reads rejected/.
def duckdb_recursive_glob_from_the_dataset_folder():
    return _duckdb_count(f"read_parquet('{root}/**/*.parquet', union_by_name = true)")

out = {}
for name, f in list(globals().items()):
    if callable(f) and name[0] != "_" and f.__module__ == "__main__":
        try:
            out[name] = f()
        except Exception as e:
            out[name] = "error: " + " ".join(f"{type(e).__name__}: {e}".split())[:300]
print(json.dumps(out))
"#;

#[test]
fn parquet_readers_pointed_at_data_read_exactly_the_kept_documents() {
    let Some(py) = venv_python() else { return };
    let work = tempfile::tempdir().unwrap();
    let ingested = work.path().join("ingested");
    ingest_samples(&ingested);
    let filtered = work.path().join("filtered");
    filter(&ingested, &FilterOptions::new(&filtered)).unwrap();
    let m = Manifest::read(&filtered).unwrap();
    let rejected: u64 = m.rejected_parts.iter().map(|p| p.rows).sum();
    assert!(m.parts.len() > 1 && m.counts.kept > 0 && rejected > 0, "several parts, kept and rejected rows: {m:?}");
    assert!(m.parts.iter().all(|p| p.file.starts_with("data/")), "{:?}", m.parts);

    // Offline, and with the Hugging Face cache in the test's folder.
    let hf = work.path().join("hf");
    let o = Command::new(&py)
        .args(["-c", COUNT])
        .arg(&filtered)
        .env("HF_HOME", &hf)
        .env("HF_DATASETS_CACHE", hf.join("datasets"))
        .env("HF_HUB_OFFLINE", "1")
        .env("HF_DATASETS_OFFLINE", "1")
        .env("HF_HUB_DISABLE_TELEMETRY", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&o.stderr));
    let counts: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap();
    eprintln!("kept {}, rejected {rejected}; rows read: {counts:?}", m.counts.kept);
    let root_glob = "duckdb_recursive_glob_from_the_dataset_folder";
    let pointed_at_data: Vec<(&String, &serde_json::Value)> = counts.iter().filter(|(k, _)| *k != root_glob).collect();
    assert_eq!(pointed_at_data.len(), 8, "{counts:?}");
    let wrong: Vec<String> = pointed_at_data
        .iter()
        .filter(|(_, v)| v.as_u64() != Some(m.counts.kept))
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    assert!(wrong.is_empty(), "want {} rows (the kept documents) from every reader; got {wrong:?}", m.counts.kept);
    assert_eq!(
        counts[root_glob].as_u64(),
        Some(m.counts.kept + rejected),
        "a `**` glob from the dataset folder reads the rejected rows too: {counts:?}"
    );
}

/// Moves the document parts of the dataset in `dir` from `data/` to the top of the folder and
/// rewrites its manifest to name them there, as versions before `data/` wrote a dataset.
/// Returns the rewritten manifest.
fn to_old_layout(dir: &Path) -> Manifest {
    let mut m = Manifest::read(dir).unwrap();
    for p in &mut m.parts {
        let old = p.file.strip_prefix("data/").expect("a part under data/").to_string();
        std::fs::rename(dir.join(&p.file), dir.join(&old)).unwrap();
        p.file = old;
    }
    std::fs::remove_dir(dir.join("data")).unwrap();
    m.write(dir, false).unwrap();
    m
}

#[test]
fn a_dataset_in_the_old_layout_is_read_by_the_next_stage() {
    let work = tempfile::tempdir().unwrap();
    let new = work.path().join("new");
    ingest_samples(&new);
    let old = work.path().join("old");
    ingest_samples(&old);
    let m = to_old_layout(&old);
    assert!(m.parts.len() > 1 && m.parts.iter().all(|p| !p.file.contains('/')), "{:?}", m.parts);
    assert!(old.join(&m.parts[0].file).is_file() && !old.join("data").exists());

    let ds = Dataset::open(&old).unwrap();
    assert_eq!(ds.documents().count() as u64, m.counts.kept);

    let (from_new, from_old) = (work.path().join("from-new"), work.path().join("from-old"));
    let a = filter(&new, &FilterOptions::new(&from_new)).unwrap();
    let b = filter(&old, &FilterOptions::new(&from_old)).unwrap();
    assert_eq!(a.counts, b.counts);
    assert!(a.counts.kept > 0 && a.counts.rejected_total() > 0, "{:?}", a.counts);
    // The same output parts, byte for byte (the manifests name their inputs' folders).
    let parts =
        |d: &Path| -> Vec<(String, Vec<u8>)> { files(d).into_iter().filter(|(f, _)| f != "manifest.json").collect() };
    assert_eq!(parts(&from_new), parts(&from_old));
    assert!(from_old.join("data/part-00000.parquet").is_file());

    // A manifest that names a part outside the folder is still refused.
    let mut bad = Manifest::read(&old).unwrap();
    for file in ["../new/data/part-00000.parquet", &new.join("data/part-00000.parquet").display().to_string()] {
        bad.parts[0].file = file.to_string();
        bad.write(&old, false).unwrap();
        let e = Dataset::open(&old).err().expect("refused").to_string();
        assert!(e.contains("not a path inside the dataset folder"), "{file}: {e}");
    }
}

/// A folder that an earlier version wrote (parts and their markers naming the top of the
/// folder) is rewritten in the `data/` layout by a rerun, by a whole run and by the shards of
/// a job array alike: its parts are redone, not resumed, and the top-level parts removed.
#[test]
fn a_rerun_into_an_old_layout_folder_redoes_its_parts_under_data() {
    let work = tempfile::tempdir().unwrap();
    let fresh = work.path().join("fresh");
    ingest_samples(&fresh);
    let make_old = |name: &str| {
        let dir = work.path().join(name);
        ingest_samples(&dir);
        let m = to_old_layout(&dir);
        // The markers, as the earlier version wrote them, name the top-level parts.
        for (i, p) in m.parts.iter().enumerate() {
            let marker = dir.join(kbcurate::dataset::part_record_name(i as u32));
            let text = std::fs::read_to_string(&marker).unwrap();
            let data_name = format!("\"data/{}\"", p.file);
            assert!(text.contains(&data_name), "{text}");
            std::fs::write(&marker, text.replace(&data_name, &format!("\"{}\"", p.file))).unwrap();
        }
        (dir, m.parts.len())
    };
    let top_level_parts = |dir: &Path| -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".parquet"))
            .collect()
    };

    // A whole run.
    let (dir, n) = make_old("whole");
    let s = run(&samples_config(), &repo().join("data-samples/filter"), &dir, |o| o.part_size = 600);
    assert_eq!((s.parts, s.parts_resumed), (n, 0));
    assert_eq!(top_level_parts(&dir), Vec::<String>::new());
    assert_eq!(files(&fresh), files(&dir));

    // The shards of a job array (which leave the folder's other files alone), then the run
    // that commits them: the shards redo every part under data/, the last run resumes them.
    let (dir, n) = make_old("shards");
    for index in 0..2 {
        run(&samples_config(), &repo().join("data-samples/filter"), &dir, |o| {
            o.part_size = 600;
            o.shard = Shard { index, count: 2 };
        });
    }
    for i in 0..n as u32 {
        assert!(dir.join(kbcurate::dataset::part_name(i)).is_file(), "part {i} is written under data/ by its shard");
    }
    let s = run(&samples_config(), &repo().join("data-samples/filter"), &dir, |o| o.part_size = 600);
    assert_eq!((s.parts, s.parts_resumed), (n, n));
    assert_eq!(top_level_parts(&dir), Vec::<String>::new());
    assert_eq!(files(&fresh), files(&dir));
}

/// kbcurate's commands take the dataset folder; given its `data/` (where Parquet readers are
/// pointed) they say which folder to name.
#[test]
fn naming_the_data_folder_to_a_stage_says_which_folder_to_name() {
    let work = tempfile::tempdir().unwrap();
    let ingested = work.path().join("ingested");
    ingest_samples(&ingested);
    let e = filter(&ingested.join("data"), &FilterOptions::new(work.path().join("out"))).unwrap_err().to_string();
    assert!(e.contains("kept documents' folder of the dataset") && e.contains(&ingested.display().to_string()), "{e}");
}
