//! `pipeline.toml`: the stages of a run, each configured inline or by a reference to its own
//! file (a collections config, a filter config, a balance policy), plus the run folder and the
//! Slurm settings. See `schemas/pipeline.md`.
//!
//! Loading resolves every reference, so that a stage's *key* (a hash of its resolved config)
//! changes when a referenced file changes, not only when the pipeline file does.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::PipelineError;
use crate::balance::policy::Policy;
use crate::dedup::args::DedupArgs;
use crate::dedup::profile::Profile;
use crate::filter::config::FilterConfig;
use crate::ingest::args::IngestArgs;
use crate::ingest::config::IngestConfig;
use crate::tokenize::args::TokenizeArgs;

/// The stages, in the order they run. Each writes a folder named after it in the run folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StageKind {
    Ingest,
    Dedup,
    Filter,
    Balance,
    Tokenize,
    Audit,
}

impl StageKind {
    pub const ALL: [StageKind; 6] = [
        StageKind::Ingest,
        StageKind::Dedup,
        StageKind::Filter,
        StageKind::Balance,
        StageKind::Tokenize,
        StageKind::Audit,
    ];

    pub fn name(self) -> &'static str {
        match self {
            StageKind::Ingest => "ingest",
            StageKind::Dedup => "dedup",
            StageKind::Filter => "filter",
            StageKind::Balance => "balance",
            StageKind::Tokenize => "tokenize",
            StageKind::Audit => "audit",
        }
    }

    /// Whether the stage writes a dataset (that later stages read).
    pub fn writes_dataset(self) -> bool {
        !matches!(self, StageKind::Tokenize | StageKind::Audit)
    }
}

impl std::fmt::Display for StageKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for StageKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        StageKind::ALL.into_iter().find(|k| k.name() == s).ok_or_else(|| {
            let names: Vec<&str> = StageKind::ALL.iter().map(|k| k.name()).collect();
            format!("unknown stage `{s}`; expected one of {}", names.join(", "))
        })
    }
}

/// Slurm settings for the whole pipeline (`[slurm]`) or one stage (`[STAGE.slurm]`, which
/// overrides the pipeline's field by field).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlurmSettings {
    pub partition: Option<String>,
    pub account: Option<String>,
    /// Wall-time limit per task, as sbatch takes it (`2:00:00`, `1-00:00:00`).
    pub time: Option<String>,
    /// Memory per task, as sbatch takes it (`8G`).
    pub mem: Option<String>,
    pub cpus_per_task: Option<u32>,
    /// At most this many tasks of one array run at once (`--array=...%N`).
    pub max_parallel: Option<u32>,
    /// Extra sbatch options, one per entry, e.g. `--qos=normal` or `--constraint=gpu`.
    #[serde(default)]
    pub extra: Vec<String>,
    /// Shell lines run before kbcurate in every job script (`module load ...`).
    #[serde(default)]
    pub setup: Vec<String>,
}

impl SlurmSettings {
    /// Refuses values that would break out of their line in a job script: every value is
    /// written on one `#SBATCH` (or, for `setup`, one shell) line.
    fn check(&self, section: &str) -> Result<(), String> {
        let one_line = |key: &str, v: &str| {
            if v.chars().any(char::is_control) {
                Err(format!(
                    "[{section}] {key} = {:?} holds a control character (a newline?); each value must be one line",
                    v
                ))
            } else {
                Ok(())
            }
        };
        for (key, v) in
            [("partition", &self.partition), ("account", &self.account), ("time", &self.time), ("mem", &self.mem)]
        {
            if let Some(v) = v {
                one_line(key, v)?;
            }
        }
        for v in &self.extra {
            one_line("extra", v)?;
            if !v.starts_with('-') {
                return Err(format!("[{section}] extra = {v:?}: each entry is one sbatch option, as `--qos=normal`"));
            }
        }
        for v in &self.setup {
            one_line("setup", v)?;
        }
        Ok(())
    }

    /// `self` with the fields `over` sets replaced.
    pub fn overridden(&self, over: Option<&SlurmSettings>) -> SlurmSettings {
        let Some(o) = over else { return self.clone() };
        SlurmSettings {
            partition: o.partition.clone().or_else(|| self.partition.clone()),
            account: o.account.clone().or_else(|| self.account.clone()),
            time: o.time.clone().or_else(|| self.time.clone()),
            mem: o.mem.clone().or_else(|| self.mem.clone()),
            cpus_per_task: o.cpus_per_task.or(self.cpus_per_task),
            max_parallel: o.max_parallel.or(self.max_parallel),
            extra: self.extra.iter().chain(&o.extra).cloned().collect(),
            setup: self.setup.iter().chain(&o.setup).cloned().collect(),
        }
    }
}

/// `[slurm]`: the pipeline-wide settings plus the executor's own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlurmConfig {
    #[serde(flatten)]
    pub settings: SlurmSettings,
    /// The largest array index the cluster accepts plus one; read from `scontrol show config`
    /// when left out. Larger arrays are split into several jobs.
    pub max_array_size: Option<u32>,
    /// The kbcurate binary on the compute nodes (default: the one submitting).
    pub binary: Option<PathBuf>,
    /// Seconds any Slurm client call (sbatch, squeue, scontrol, scancel) may take.
    #[serde(default = "default_client_timeout")]
    pub client_timeout_s: u64,
    /// Seconds between queue polls with `--wait`.
    #[serde(default = "default_poll")]
    pub poll_s: f64,
}

fn default_client_timeout() -> u64 {
    30
}

fn default_poll() -> f64 {
    2.0
}

impl Default for SlurmConfig {
    fn default() -> Self {
        SlurmConfig {
            settings: SlurmSettings::default(),
            max_array_size: None,
            binary: None,
            client_timeout_s: default_client_timeout(),
            poll_s: default_poll(),
        }
    }
}

/// `[run]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSection {
    /// The run folder (relative to the pipeline file); `--run-dir` overrides.
    pub dir: Option<PathBuf>,
    /// Worker threads of local stages (default: one per core). Outputs do not depend on it.
    pub threads: Option<usize>,
    /// How every dataset stage compresses its Parquet parts: `zstd` (level 1, the default),
    /// `zstd:LEVEL` or `none`.
    #[serde(default)]
    pub compression: crate::dataset::Codec,
    /// Sync each stage's output to disk at its commit (`kbcurate --sync`; see the durability
    /// notes in docs/pipeline.md). It does not change any output, so it is not in the stage keys.
    #[serde(default)]
    pub sync: bool,
}

fn default_shards() -> u32 {
    4
}

/// `[audit]` (no options yet besides Slurm's: its presence turns the stage on).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditStage {
    pub slurm: Option<SlurmSettings>,
}

/// A stage with its config resolved (referenced files read and validated).
#[derive(Debug, Clone)]
pub enum StageConfig {
    Ingest {
        config: IngestConfig,
        base: PathBuf,
        args: IngestArgs,
        shards: u32,
    },
    /// `args.against` is resolved against the pipeline file's folder.
    Dedup {
        args: DedupArgs,
        profile: Profile,
        shards: u32,
    },
    Filter {
        config: FilterConfig,
        shards: u32,
    },
    Balance {
        policy: Policy,
        shards: u32,
    },
    /// `args.tokenizer`, where it names a file, is resolved against the pipeline file's folder.
    Tokenize {
        args: TokenizeArgs,
        shards: u32,
    },
    Audit,
}

/// One stage of the pipeline.
#[derive(Debug, Clone)]
pub struct Stage {
    pub kind: StageKind,
    pub config: StageConfig,
    pub slurm: Option<SlurmSettings>,
    /// xxh3-128 of the resolved config and kbcurate's version: a stage whose key changed is
    /// rerun (its parts are reused where their own plans still match).
    pub key: String,
}

impl Stage {
    /// Array tasks of the stage's per-part steps.
    pub fn shards(&self) -> u32 {
        match &self.config {
            StageConfig::Ingest { shards, .. } | StageConfig::Filter { shards, .. } => *shards,
            StageConfig::Balance { shards, .. } | StageConfig::Dedup { shards, .. } => *shards,
            StageConfig::Tokenize { shards, .. } => *shards,
            StageConfig::Audit => 1,
        }
    }
}

/// A loaded `pipeline.toml`.
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// The file, absolute.
    pub path: PathBuf,
    pub run: RunSection,
    /// The configured stages, in order.
    pub stages: Vec<Stage>,
    pub slurm: SlurmConfig,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PipelineFile {
    #[serde(default)]
    run: RunSection,
    ingest: Option<toml::Table>,
    dedup: Option<toml::Table>,
    filter: Option<toml::Table>,
    balance: Option<toml::Table>,
    tokenize: Option<toml::Table>,
    audit: Option<AuditStage>,
    #[serde(default)]
    slurm: SlurmConfig,
}

fn invalid(path: &Path, message: impl Into<String>) -> PipelineError {
    PipelineError::Config { path: path.to_path_buf(), message: message.into() }
}

/// Takes the runner's own keys (`shards`, `slurm`) out of a stage table whose other keys are
/// the stage's config.
fn runner_keys(path: &Path, section: &str, t: &mut toml::Table) -> Result<(u32, Option<SlurmSettings>), PipelineError> {
    let shards = match t.remove("shards") {
        None => default_shards(),
        Some(toml::Value::Integer(n)) if n >= 1 && n <= u32::MAX as i64 => n as u32,
        Some(v) => return Err(invalid(path, format!("[{section}] shards = {v}: expected a whole number ≥ 1"))),
    };
    let slurm = match t.remove("slurm") {
        None => None,
        Some(v) => {
            let s: SlurmSettings =
                v.try_into().map_err(|e: toml::de::Error| invalid(path, format!("[{section}.slurm]: {e}")))?;
            s.check(&format!("{section}.slurm")).map_err(|m| invalid(path, m))?;
            Some(s)
        }
    };
    Ok((shards, slurm))
}

/// The rest of a stage's table (its runner keys taken out) as the stage's options type; an
/// error names the table and its line.
fn stage_args<T: serde::de::DeserializeOwned>(
    path: &Path,
    text: &str,
    section: &str,
    t: toml::Table,
) -> Result<T, PipelineError> {
    toml::Value::Table(t).try_into().map_err(|e: toml::de::Error| {
        let header = format!("[{section}]");
        let line = text
            .lines()
            .position(|l| l.trim_start().starts_with(&header))
            .map(|n| format!("line {}: ", n + 1))
            .unwrap_or_default();
        invalid(path, format!("{line}{header}: {}", e.message().trim_end()))
    })
}

impl Pipeline {
    pub fn read(path: &Path) -> Result<Pipeline, PipelineError> {
        let text = std::fs::read_to_string(path).map_err(|e| invalid(path, format!("cannot read: {e}")))?;
        let abs = std::path::absolute(path).map_err(|e| invalid(path, e.to_string()))?;
        Pipeline::parse(&text, &abs)
    }

    /// Parses `text` as if read from `path` (relative references resolve against its folder).
    pub fn parse(text: &str, path: &Path) -> Result<Pipeline, PipelineError> {
        let file: PipelineFile = toml::from_str(text).map_err(|e| {
            let line =
                e.span().map(|s| format!("line {}: ", text[..s.start].matches('\n').count() + 1)).unwrap_or_default();
            invalid(path, format!("{line}{}", e.message()))
        })?;
        file.slurm.settings.check("slurm").map_err(|m| invalid(path, m))?;
        if let Some(a) = &file.audit {
            if let Some(s) = &a.slurm {
                s.check("audit.slurm").map_err(|m| invalid(path, m))?;
            }
        }
        let poll = file.slurm.poll_s;
        if !(poll.is_finite() && (0.1..=3600.0).contains(&poll)) {
            return Err(invalid(path, format!("[slurm] poll_s = {poll}: expected seconds from 0.1 to 3600")));
        }
        let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let mut stages = Vec::new();
        let origin = |section: &str| format!("{} [{section}]", path.display());

        if let Some(mut t) = file.ingest {
            let (shards, slurm) = runner_keys(path, "ingest", &mut t)?;
            let config_file = match t.remove("config") {
                None => None,
                Some(toml::Value::String(f)) => Some(f),
                Some(v) => return Err(invalid(path, format!("[ingest] config = {v}: expected a file name"))),
            };
            let defaults = t.remove("defaults");
            let collection = t.remove("collection");
            let args: IngestArgs = stage_args(path, text, "ingest", t)?;
            let (config, base) = match (config_file, collection) {
                (Some(_), Some(_)) => return Err(invalid(
                    path,
                    "[ingest]: give `config = \"collections.toml\"` or inline [[ingest.collection]] tables, not both",
                )),
                (Some(f), None) => {
                    if defaults.is_some() {
                        return Err(invalid(path, "[ingest]: [ingest.defaults] goes with inline collections"));
                    }
                    let f = dir.join(f);
                    let c = IngestConfig::from_file(&f).map_err(|e| invalid(path, format!("[ingest] config: {e}")))?;
                    (c, f.parent().unwrap_or(Path::new(".")).to_path_buf())
                }
                (None, Some(collections)) => {
                    let mut table = toml::Table::new();
                    table.insert("collection".into(), collections);
                    if let Some(d) = defaults {
                        table.insert("defaults".into(), d);
                    }
                    let c = IngestConfig::from_toml(
                        &toml::to_string(&table).expect("a table serializes"),
                        &origin("ingest"),
                    )
                    .map_err(|e| invalid(path, e.to_string()))?;
                    (c, dir.clone())
                }
                (None, None) => {
                    return Err(invalid(
                        path,
                        "[ingest]: give `config = \"collections.toml\"` or [[ingest.collection]] tables",
                    ))
                }
            };
            let part_size = args.part_size().map_err(|e| invalid(path, format!("[ingest] {e}")))?;
            let mut key_json = serde_json::json!({ "config": config, "base": base, "part_size": part_size });
            // Only when set, so that the keys of runs made before the option are unchanged.
            if args.follow_links {
                key_json["follow_links"] = true.into();
            }
            let key = key_of(&key_json);
            stages.push(Stage {
                kind: StageKind::Ingest,
                config: StageConfig::Ingest { config, base, args, shards },
                slurm,
                key,
            });
        }
        if let Some(mut t) = file.dedup {
            let (shards, slurm) = runner_keys(path, "dedup", &mut t)?;
            let mut args: DedupArgs = stage_args(path, text, "dedup", t)?;
            let profile = args.profile().map_err(|e| invalid(path, format!("[dedup] {e}")))?;
            args.against = args.against.iter().map(|p| dir.join(p)).collect();
            let key = key_of(&serde_json::json!({
                "profile": profile, "boilerplate_min_docs": args.boilerplate_min_docs, "keep_order": args.keep_order,
                "against": args.against, "save_index": args.save_index,
            }));
            stages.push(Stage {
                kind: StageKind::Dedup,
                config: StageConfig::Dedup { args, profile, shards },
                slurm,
                key,
            });
        }
        if let Some(mut t) = file.filter {
            let (shards, slurm) = runner_keys(path, "filter", &mut t)?;
            let config = match t.remove("config") {
                Some(toml::Value::String(f)) => {
                    if !t.is_empty() {
                        return Err(invalid(
                            path,
                            "[filter]: give `config = \"filter.toml\"` or the filter tables inline, not both",
                        ));
                    }
                    FilterConfig::from_file(&dir.join(f)).map_err(|e| invalid(path, format!("[filter] config: {e}")))?
                }
                Some(v) => return Err(invalid(path, format!("[filter] config = {v}: expected a file name"))),
                None => {
                    let mut c =
                        FilterConfig::from_toml(&toml::to_string(&t).expect("a table serializes"), &origin("filter"))
                            .map_err(|e| invalid(path, e.to_string()))?;
                    c.resolve_paths(&dir);
                    c
                }
            };
            let key = key_of(&serde_json::to_value(&config).expect("config serializes"));
            stages.push(Stage { kind: StageKind::Filter, config: StageConfig::Filter { config, shards }, slurm, key });
        }
        if let Some(mut t) = file.balance {
            let (shards, slurm) = runner_keys(path, "balance", &mut t)?;
            let seed = match t.remove("seed") {
                None => None,
                Some(toml::Value::Integer(n)) if n >= 0 => Some(n as u64),
                Some(v) => return Err(invalid(path, format!("[balance] seed = {v}: expected a whole number ≥ 0"))),
            };
            let mut policy = match t.remove("policy") {
                Some(toml::Value::String(f)) => {
                    Policy::read(&dir.join(f)).map_err(|e| invalid(path, format!("[balance] policy: {e}")))?
                }
                Some(toml::Value::Table(p)) => {
                    Policy::parse(&toml::to_string(&p).expect("a table serializes"), &origin("balance.policy"))
                        .map_err(|e| invalid(path, e.to_string()))?
                }
                Some(v) => {
                    return Err(invalid(path, format!("[balance] policy = {v}: expected a file name or a table")))
                }
                None => {
                    return Err(invalid(
                        path,
                        "[balance]: give `policy = \"policies/democratic.toml\"` or a [balance.policy] table",
                    ))
                }
            };
            if let Some(k) = t.keys().next() {
                return Err(invalid(
                    path,
                    format!("[balance]: unknown key `{k}` (expected policy, seed, shards, slurm)"),
                ));
            }
            if let Some(seed) = seed {
                policy.seed = seed;
            }
            let key = key_of(&serde_json::to_value(&policy).expect("policy serializes"));
            stages.push(Stage {
                kind: StageKind::Balance,
                config: StageConfig::Balance { policy, shards },
                slurm,
                key,
            });
        }
        if let Some(mut t) = file.tokenize {
            let (shards, slurm) = runner_keys(path, "tokenize", &mut t)?;
            let mut args: TokenizeArgs = stage_args(path, text, "tokenize", t)?;
            // A tokenizer file is found relative to the pipeline file; a built-in name stays.
            let as_file = dir.join(&args.tokenizer);
            if !crate::tokenize::encoder::BUILTINS.contains(&args.tokenizer.as_str()) && as_file.exists() {
                args.tokenizer = as_file.display().to_string();
            }
            // The key has the shape it had when `[tokenize]` was a table of its own, so that runs
            // made then are not redone. Where the merges run does not change the ids: not in it.
            let key = key_of(&serde_json::json!({
                "tokenizer": args.tokenizer, "seq_len": args.seq_len, "packing": args.packing,
                "bos": args.bos, "eos": args.eos, "pad": args.pad, "val_fraction": args.val_fraction,
                "seed": args.seed, "format": args.format, "bucket_mb": args.bucket_mb, "device": null,
                "shards": shards, "slurm": null,
            }));
            stages.push(Stage {
                kind: StageKind::Tokenize,
                config: StageConfig::Tokenize { args, shards },
                slurm,
                key,
            });
        }
        if let Some(a) = file.audit {
            stages.push(Stage {
                kind: StageKind::Audit,
                config: StageConfig::Audit,
                slurm: a.slurm,
                key: key_of(&serde_json::json!("audit")),
            });
        }
        if stages.is_empty() {
            return Err(invalid(
                path,
                "no stages: add at least one of [ingest], [dedup], [filter], [balance], [tokenize], [audit]",
            ));
        }
        if stages[0].kind != StageKind::Ingest {
            return Err(invalid(
                path,
                format!(
                    "the pipeline starts with [{}]: a pipeline reads its collections with [ingest] first",
                    stages[0].kind
                ),
            ));
        }
        if stages.iter().any(|s| s.kind == StageKind::Tokenize)
            && !stages.iter().any(|s| {
                matches!(s.kind, StageKind::Balance | StageKind::Filter | StageKind::Dedup | StageKind::Ingest)
            })
        {
            return Err(invalid(path, "[tokenize] needs a dataset stage before it"));
        }
        // A stage that writes Parquet is rerun when the compression changes.
        for st in stages.iter_mut().filter(|s| !matches!(s.kind, StageKind::Tokenize | StageKind::Audit)) {
            st.key = key_of(&serde_json::json!({ "stage": st.key, "compression": file.run.compression }));
        }
        Ok(Pipeline { path: path.to_path_buf(), run: file.run, stages, slurm: file.slurm })
    }

    pub fn stage(&self, kind: StageKind) -> Option<&Stage> {
        self.stages.iter().find(|s| s.kind == kind)
    }

    /// The run folder: `--run-dir` if given, else `[run] dir` relative to the pipeline file,
    /// else `run/` beside it.
    pub fn run_dir(&self, over: Option<&Path>) -> PathBuf {
        match over {
            Some(p) => p.to_path_buf(),
            None => {
                let dir = self.path.parent().unwrap_or(Path::new("."));
                dir.join(self.run.dir.clone().unwrap_or_else(|| PathBuf::from("run")))
            }
        }
    }
}

/// xxh3-128 of a config's JSON and kbcurate's version, as 32 hex digits.
pub fn key_of(v: &serde_json::Value) -> String {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(v.to_string().as_bytes());
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    format!("{:032x}", h.digest128())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("data-samples")
    }

    fn parse(text: &str) -> Result<Pipeline, PipelineError> {
        Pipeline::parse(text, &samples().join("test-pipeline.toml"))
    }

    const INLINE: &str = r#"
[ingest]
part_size_mb = 1
[[ingest.collection]]
name = "letters"
paths = ["jsonl/*.jsonl"]
format = "jsonl"
genre = "letter"

[filter]
[filter.language]
min_chars = 40
[filter.quality]
lexicons = { swe = "lexicons/swe.tsv", fin = "/abs/fin.tsv" }

[balance]
seed = 7
[balance.policy]
max_repeats = 1
[balance.policy.budget]
unit = "documents"
[balance.policy.dimension.genre]
strategy = "proportional"

[audit]
"#;

    #[test]
    fn inline_stages_resolve_with_keys() {
        let p = parse(INLINE).unwrap();
        let kinds: Vec<StageKind> = p.stages.iter().map(|s| s.kind).collect();
        assert_eq!(kinds, [StageKind::Ingest, StageKind::Filter, StageKind::Balance, StageKind::Audit]);
        match &p.stages[0].config {
            StageConfig::Ingest { config, base, args, .. } => {
                assert_eq!(config.collections[0].name, "letters");
                assert_eq!(base, &samples());
                assert_eq!(args.part_size().unwrap(), 1 << 20);
            }
            other => panic!("{other:?}"),
        }
        match &p.stages[1].config {
            // Inline, the lexicons are relative to the pipeline file.
            StageConfig::Filter { config, .. } => {
                assert_eq!(config.quality.lexicons["swe"], samples().join("lexicons/swe.tsv"));
                assert_eq!(config.quality.lexicons["fin"], Path::new("/abs/fin.tsv"));
            }
            other => panic!("{other:?}"),
        }
        match &p.stages[2].config {
            StageConfig::Balance { policy, shards } => {
                assert_eq!(policy.seed, 7);
                assert_eq!(*shards, 4);
            }
            other => panic!("{other:?}"),
        }
        // A different seed is a different balance key, and only that.
        let q = parse(&INLINE.replace("seed = 7", "seed = 8")).unwrap();
        assert_eq!(p.stages[0].key, q.stages[0].key);
        assert_eq!(p.stages[1].key, q.stages[1].key);
        assert_ne!(p.stages[2].key, q.stages[2].key);
    }

    /// `[run] compression` reaches every dataset stage's key (a change reruns them), not the
    /// audit's; a bad value names the key and the accepted forms.
    #[test]
    fn compression_is_part_of_the_dataset_stages_keys() {
        let p = parse(INLINE).unwrap();
        assert_eq!(p.run.compression, crate::dataset::Codec::Zstd(1));
        let q = parse(&format!("[run]\ncompression = \"none\"\n{INLINE}")).unwrap();
        assert_eq!(q.run.compression, crate::dataset::Codec::None);
        for (a, b) in p.stages.iter().zip(&q.stages) {
            assert_eq!(a.key == b.key, a.kind == StageKind::Audit, "{}", a.kind);
        }
        let e = err(&format!("[run]\ncompression = \"lz4\"\n{INLINE}"));
        assert!(e.contains("compression `lz4`") && e.contains("zstd:LEVEL"), "{e}");
    }

    /// `[run] sync` is read and changes no stage's key: syncing changes no output.
    #[test]
    fn sync_is_read_and_not_part_of_any_key() {
        let p = parse(INLINE).unwrap();
        assert!(!p.run.sync);
        let q = parse(&format!("[run]\nsync = true\n{INLINE}")).unwrap();
        assert!(q.run.sync);
        assert!(p.stages.iter().zip(&q.stages).all(|(a, b)| a.key == b.key));
    }

    #[test]
    fn referenced_files_are_read() {
        let p = parse(
            "[ingest]\nconfig = \"collections.toml\"\n[filter]\nconfig = \"filter.toml\"\nshards = 3\n\
             [balance]\npolicy = \"../policies/democratic.toml\"\n[tokenize]\ntokenizer = \"cl100k_base\"\nseq_len = 64\neos = \"<|endoftext|>\"\n",
        )
        .unwrap();
        assert_eq!(p.stages.len(), 4);
        assert_eq!(p.stages[1].shards(), 3);
        assert_eq!(p.run_dir(None), samples().join("run"));
    }

    fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn mistakes_are_named() {
        assert!(err("[ingest]\nconfig = \"collections.toml\"\nshard = 2\n").contains("unknown field `shard`"));
        assert!(err("[ingest]\nconfig = \"collections.toml\"\n[[ingest.collection]]\nname = \"x\"\npaths = [\"a\"]\n")
            .contains("not both"));
        assert!(err("[ingest]\nconfig = \"nope.toml\"\n").contains("nope.toml"));
        assert!(err("[dedup]\n").contains("starts with [dedup]"));
        assert!(err("[run]\ndir = \"x\"\n").contains("no stages"));
        assert!(err("[ingest]\nconfig = \"collections.toml\"\n[balance]\n").contains("policy"));
        assert!(err("[ingest]\nconfig = \"collections.toml\"\n[balance]\npolicy = \"../policies/democratic.toml\"\nbudget = 3\n")
            .contains("unknown key `budget`"));
        assert!(err("[ingest]\nconfig = \"collections.toml\"\n[dedup]\nbands_rows = \"32\"\n").contains("BANDSxROWS"));
        assert!(err("[ingest]\nconfig = \"collections.toml\"\n[filter]\nshards = 0\n").contains("shards = 0"));
        let e = err("[ingest]\nconfig = \"collections.toml\"\n\n[tokenize]\ntokenizer = \"cl100k_base\"\n");
        assert!(e.contains("line 4") && e.contains("seq_len"), "{e}");
    }

    /// Every Slurm value lands on one line of a job script: a newline in one would add a line
    /// of its own (an `#SBATCH` option or a shell command) that nobody wrote.
    #[test]
    fn slurm_values_that_would_inject_a_line_are_refused() {
        let ingest = "[ingest]\nconfig = \"collections.toml\"\n";
        let e = err(&format!("{ingest}[slurm]\npartition = \"main\\n#SBATCH --uid=0\"\n"));
        assert!(e.contains("[slurm] partition") && e.contains("control character"), "{e}");
        let e = err(&format!("{ingest}[ingest.slurm]\nsetup = [\"module load x\\nrm -rf ~\"]\n"));
        assert!(e.contains("[ingest.slurm] setup"), "{e}");
        let e = err(&format!("{ingest}[audit.slurm]\nextra = [\"qos=long\"]\n"));
        assert!(e.contains("one sbatch option"), "{e}");
        for poll in ["inf", "nan", "-1.0", "0.0", "1e9"] {
            let e = err(&format!("{ingest}[slurm]\npoll_s = {poll}\n"));
            assert!(e.contains("poll_s"), "{poll}: {e}");
        }
        parse(&format!("{ingest}[slurm]\npoll_s = 0.5\nextra = [\"--qos=long\"]\n")).unwrap();
    }

    #[test]
    fn slurm_settings_override_field_by_field() {
        let base = SlurmSettings {
            partition: Some("cpu".into()),
            mem: Some("4G".into()),
            extra: vec!["--qos=a".into()],
            ..Default::default()
        };
        let over = SlurmSettings { mem: Some("64G".into()), extra: vec!["--exclusive".into()], ..Default::default() };
        let s = base.overridden(Some(&over));
        assert_eq!(s.partition.as_deref(), Some("cpu"));
        assert_eq!(s.mem.as_deref(), Some("64G"));
        assert_eq!(s.extra, ["--qos=a", "--exclusive"]);
    }
}
