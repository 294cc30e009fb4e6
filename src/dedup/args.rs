//! The options of `kbcurate dedup`, declared once: the command line flattens [`DedupArgs`]
//! (clap), a pipeline's `[dedup]` table deserializes into it (serde), and
//! [`DedupArgs::resolve`] turns it into the stage's options ([`DedupOptions`], also here). Each option has its one
//! doc string and its one default here (the `default_*` functions).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::cluster::{KeepKey, DEFAULT_KEEP_ORDER};
pub use super::containment::ContainedPolicy;
use super::lsh::Banding;
use super::minhash::Shingles;
use super::profile::Profile;
use std::sync::Arc;

use super::batch::{BatchSigner, SignerSource};
use crate::device::Device;

fn default_profile() -> String {
    "ocr".into()
}
pub(crate) fn default_boilerplate_min_docs() -> u64 {
    20
}
pub(crate) fn default_keep_order() -> Vec<KeepKey> {
    DEFAULT_KEEP_ORDER.to_vec()
}

/// What `kbcurate dedup` and `[dedup]` take.
#[derive(Debug, Clone, PartialEq, clap::Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DedupArgs {
    /// `ocr` (OCR'd and transcribed text; the default) or `web` (born-digital text).
    #[arg(long, default_value_t = default_profile())]
    #[serde(default = "default_profile")]
    pub profile: String,
    /// Override the profile's threshold on estimated Jaccard similarity (0..1).
    #[arg(long)]
    #[serde(default)]
    pub threshold: Option<f64>,
    /// Override the profile's least alignment of a confirmed duplicate (0..1): the share of
    /// the longer text's words aligned in order with the other's, equal or near misses.
    #[arg(long)]
    #[serde(default)]
    pub min_alignment: Option<f64>,
    /// Override the profile's shingles: `words:N` (runs of N words) or `chars:N` (runs of N
    /// characters, spaces included).
    #[arg(long)]
    #[serde(default)]
    pub shingles: Option<ShingleSpec>,
    /// Override the profile's LSH banding, e.g. `32x4` (bands × rows = hash functions).
    #[arg(long, conflicts_with = "banding_from_threshold")]
    #[serde(default)]
    pub bands_rows: Option<BandsRows>,
    /// Derive bands × rows from the threshold (minimizing missed pairs above it and false
    /// candidates below it), keeping the profile's number of hash functions.
    #[arg(long)]
    #[serde(default)]
    pub banding_from_threshold: bool,
    /// A line recurring in at least this many documents of one source is boilerplate and is
    /// removed from the text (0: keep every line).
    #[arg(long, default_value_t = default_boilerplate_min_docs())]
    #[serde(default = "default_boilerplate_min_docs")]
    pub boilerplate_min_docs: u64,
    /// An earlier release (a dataset, or an index saved with --save-index; repeatable):
    /// documents duplicating one of its documents are removed, naming the earlier document.
    /// A dataset with a saved index for the same profile is read through its index.
    #[arg(long)]
    #[serde(default)]
    pub against: Vec<PathBuf>,
    /// Also write `index/` into the output: the kept documents' signatures, for a later
    /// `--against` without reading this release's text again.
    #[arg(long)]
    #[serde(default)]
    pub save_index: bool,
    /// How the copy to keep is chosen, best first: any of common_words (the copy with the
    /// fewest misread words), ocr_confidence, length, date (earliest), latest; the id breaks
    /// the last tie.
    #[arg(long, value_delimiter = ',', default_values_t = default_keep_order())]
    #[serde(default = "default_keep_order")]
    pub keep_order: Vec<KeepKey>,
    /// What becomes of a document whose text is a passage of a longer kept document (an
    /// article also printed in a whole page): `flag` keeps it, with `contained_in` naming the
    /// longer one; `remove` moves it to `rejected/` as `contained`; `off` does not look.
    #[arg(long, value_enum, default_value_t = ContainedPolicy::Flag)]
    #[serde(default)]
    pub contained: ContainedPolicy,
    /// Where signatures are computed: cpu, cuda, cuda:N, or auto (a GPU if there is one).
    /// Output does not depend on it.
    #[arg(long, default_value_t = Device::Cpu)]
    #[serde(default)]
    pub device: Device,
}

impl Default for DedupArgs {
    fn default() -> Self {
        DedupArgs {
            profile: default_profile(),
            threshold: None,
            min_alignment: None,
            shingles: None,
            bands_rows: None,
            banding_from_threshold: false,
            boilerplate_min_docs: default_boilerplate_min_docs(),
            against: Vec::new(),
            save_index: false,
            keep_order: default_keep_order(),
            contained: ContainedPolicy::Flag,
            device: Device::Cpu,
        }
    }
}

impl DedupArgs {
    /// The profile these options name, with its overrides applied.
    pub fn profile(&self) -> Result<Profile, String> {
        let mut profile = Profile::by_name(&self.profile)
            .ok_or_else(|| format!("profile `{}`: expected `ocr` or `web`", self.profile))?;
        if let Some(t) = self.threshold {
            if !(0.0..=1.0).contains(&t) {
                return Err(format!("threshold {t}: must be between 0 and 1"));
            }
            profile.threshold = t;
        }
        if let Some(a) = self.min_alignment {
            if !(0.0..=1.0).contains(&a) {
                return Err(format!("min_alignment {a}: must be between 0 and 1"));
            }
            profile.verify.min_alignment = a;
        }
        if let Some(s) = self.shingles {
            profile.shingles = s.0;
        }
        match (self.bands_rows, self.banding_from_threshold) {
            (Some(_), true) => return Err("give bands_rows or banding_from_threshold, not both".into()),
            (Some(b), false) => profile.banding = b.0,
            (None, true) => {
                let perms = profile.banding.perms();
                profile.banding = Banding::for_threshold(profile.threshold, perms, 0.5, 0.5);
            }
            (None, false) => {}
        }
        Ok(profile)
    }

    /// The stage's options, writing to `output`; `against` is taken relative to `base` (a
    /// pipeline file's folder; the current folder on the command line). The device is
    /// resolved by the caller (`gpu::signer_source`), which sits above the stages.
    pub fn resolve(&self, output: &Path, base: &Path) -> Result<DedupOptions, String> {
        let mut o = DedupOptions::new(output);
        o.profile = self.profile()?;
        o.boilerplate_min_docs = self.boilerplate_min_docs;
        o.against = self.against.iter().map(|p| base.join(p)).collect();
        o.save_index = self.save_index;
        o.keep_order = self.keep_order.clone();
        o.contained = self.contained;
        Ok(o)
    }
}

/// `words:N` or `chars:N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShingleSpec(pub Shingles);

impl std::str::FromStr for ShingleSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (kind, n) = s.split_once(':').unwrap_or((s, ""));
        let n = n.trim().parse::<usize>().ok().filter(|&n| n > 0);
        match (kind.trim(), n) {
            ("words", Some(n)) => Ok(ShingleSpec(Shingles::Words { n })),
            ("chars", Some(n)) => Ok(ShingleSpec(Shingles::Chars { n })),
            _ => Err(format!("shingles `{s}`: expected words:N or chars:N, e.g. words:3")),
        }
    }
}

impl std::fmt::Display for ShingleSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Shingles::Words { n } => write!(f, "words:{n}"),
            Shingles::Chars { n } => write!(f, "chars:{n}"),
        }
    }
}

impl Serialize for ShingleSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ShingleSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<ShingleSpec, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// `BANDSxROWS` (also `BANDS*ROWS`), e.g. `32x4`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BandsRows(pub Banding);

impl std::str::FromStr for BandsRows {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        s.split_once(['x', 'X', '*'])
            .and_then(|(b, r)| Some((b.trim().parse::<usize>().ok()?, r.trim().parse::<usize>().ok()?)))
            .filter(|(b, r)| *b > 0 && *r > 0)
            .map(|(bands, rows)| BandsRows(Banding { bands, rows }))
            .ok_or_else(|| format!("bands × rows `{s}`: expected BANDSxROWS, e.g. 32x4"))
    }
}

impl std::fmt::Display for BandsRows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}", self.0.bands, self.0.rows)
    }
}

impl Serialize for BandsRows {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for BandsRows {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<BandsRows, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// The stage's options, resolved: what [`super::stage::dedup`] runs with.
#[derive(Debug, Clone)]
pub struct DedupOptions {
    pub output: PathBuf,
    pub profile: Profile,
    /// A line that recurs in at least this many documents of one source is boilerplate and is
    /// removed from the kept documents' text (0: keep all lines).
    pub boilerplate_min_docs: u64,
    /// Earlier releases (datasets, or indexes saved with `save_index`): input documents that
    /// duplicate one of their documents are removed, naming the earlier document. Their
    /// documents are not written.
    pub against: Vec<PathBuf>,
    /// Also write `index/` into the output: the kept documents' signatures, so that a later
    /// run can dedup against this release without reading its text (`against`).
    pub save_index: bool,
    /// How the kept copy is chosen (the id breaks the last tie).
    pub keep_order: Vec<KeepKey>,
    /// What becomes of a document contained in a longer kept one.
    pub contained: ContainedPolicy,
    pub threads: Option<usize>,
    /// How the Parquet parts are compressed.
    pub compression: crate::dataset::Codec,
    /// Where signatures are computed when not on the CPU (`--device`, resolved to the GPU
    /// path by the caller: `gpu::on_device`); the output does not depend on it.
    pub device: Option<Arc<dyn SignerSource>>,
    /// Signs in batches with this instead of what `device` opens (library use; the tests run
    /// the stage with the CPU reference of the GPU kernels, and with the kernels emulated).
    pub signer: Option<Signer>,
    /// Sync the output to disk at its commit points (`--sync`; see the dataset module's
    /// durability notes). Changes no output.
    pub sync: bool,
}

/// A batched signer in [`DedupOptions`].
#[derive(Clone)]
pub struct Signer(pub Arc<dyn BatchSigner>);

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.describe())
    }
}

impl DedupOptions {
    pub fn new(output: impl Into<PathBuf>) -> Self {
        Self {
            output: output.into(),
            sync: false,
            profile: Profile::ocr(),
            boilerplate_min_docs: default_boilerplate_min_docs(),
            against: Vec::new(),
            save_index: false,
            keep_order: default_keep_order(),
            contained: ContainedPolicy::Flag,
            threads: None,
            compression: crate::dataset::Codec::default(),
            device: None,
            signer: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: DedupArgs,
    }

    /// The command line with no flags, an empty `[dedup]` table and `Default` agree.
    #[test]
    fn one_default_everywhere() {
        let cli = Cli::try_parse_from(["dedup"]).unwrap().args;
        let toml: DedupArgs = toml::from_str("").unwrap();
        assert_eq!(cli, DedupArgs::default());
        assert_eq!(toml, DedupArgs::default());
        assert_eq!(cli.resolve(Path::new("o"), Path::new(".")).unwrap().profile, Profile::ocr());
    }

    /// The same spellings on the command line and in TOML, checked the same way.
    #[test]
    fn flags_and_keys_parse_alike() {
        let cli = Cli::try_parse_from([
            "dedup",
            "--bands-rows",
            "16*8",
            "--keep-order",
            "length,latest",
            "--device",
            "auto",
            "--threshold",
            "0.3",
        ])
        .unwrap()
        .args;
        let toml: DedupArgs = toml::from_str(
            "bands_rows = \"16*8\"\nkeep_order = [\"length\", \"latest\"]\ndevice = \"auto\"\nthreshold = 0.3\n",
        )
        .unwrap();
        assert_eq!(cli, toml);
        let p = cli.profile().unwrap();
        assert_eq!((p.banding.bands, p.banding.rows, p.threshold), (16, 8, 0.3));
        let bad = toml::from_str::<DedupArgs>("bands_rows = \"32\"\n").unwrap_err().to_string();
        assert!(bad.contains("BANDSxROWS"), "{bad}");
        let chars = Cli::try_parse_from(["dedup", "--shingles", "chars:5"]).unwrap().args;
        assert_eq!(chars, toml::from_str::<DedupArgs>("shingles = \"chars:5\"\n").unwrap());
        assert_eq!(chars.profile().unwrap().shingles, Shingles::Chars { n: 5 });
        for bad in ["chars", "words:0", "lines:2"] {
            let e = bad.parse::<ShingleSpec>().unwrap_err();
            assert!(e.contains("words:N or chars:N"), "{e}");
        }
        let bad = toml::from_str::<DedupArgs>("shard = 2\n").unwrap_err().to_string();
        assert!(bad.contains("unknown field `shard`"), "{bad}");
        let e = DedupArgs { threshold: Some(1.5), ..Default::default() }.profile().unwrap_err();
        assert!(e.contains("between 0 and 1"), "{e}");
        let e = DedupArgs { profile: "news".into(), ..Default::default() }.profile().unwrap_err();
        assert!(e.contains("`news`") && e.contains("`ocr`"), "{e}");
    }
}
