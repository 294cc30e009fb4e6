//! A tiktoken-style vocabulary (ranks) as a Hugging Face `tokenizer.json`: byte-level BPE whose
//! merges are recovered from the ranks, with tiktoken's pre-tokenization regex rewritten for
//! the `tokenizers` regex engine (`\p{N}{1,3}+` → `\p{N}{1,3}`). The `tokenizers` crate then
//! gives the same ids as tiktoken: this is how the fast encoder is checked against the reference,
//! and how Python's `tokenizers` is benchmarked on the same vocabulary.

use serde_json::json;

/// cl100k_base's split pattern in `tokenizers`' dialect.
pub const CL100K_HF_PATTERN: &str = super::pretokenize::CL100K_PATTERN;

/// o200k_base's split pattern in `tokenizers`' dialect (tiktoken's, which bpe-openai runs with
/// `\s+(?!\S)` emulated by a look-ahead pattern).
pub const O200K_HF_PATTERN: &str = super::pretokenize::O200K_PATTERN;

/// o200k_base's special tokens.
pub const O200K_SPECIALS: [(&str, u32); 2] = [("<|endoftext|>", 199999), ("<|endofprompt|>", 200018)];

/// cl100k_base's special tokens.
pub const CL100K_SPECIALS: [(&str, u32); 5] = [
    ("<|endoftext|>", 100257),
    ("<|fim_prefix|>", 100258),
    ("<|fim_middle|>", 100259),
    ("<|fim_suffix|>", 100260),
    ("<|endofprompt|>", 100276),
];

/// GPT-2's byte → printable character map used by byte-level BPE.
pub fn bytes_to_unicode() -> [char; 256] {
    let mut out = ['\0'; 256];
    let mut n = 0u32;
    for b in 0..256u32 {
        let printable = (33..=126).contains(&b) || (161..=172).contains(&b) || (174..=255).contains(&b);
        out[b as usize] = if printable {
            char::from_u32(b).unwrap()
        } else {
            n += 1;
            char::from_u32(255 + n).unwrap()
        };
    }
    out
}

/// The merge that makes each token of a rank BPE: `(id, left, right)` for every token of two
/// bytes or more, in id order (their merge ranks). `tokens[i]` is the token of rank (id) `i`.
/// A token's merge is found by running BPE on its bytes with the merges ranked below it, which
/// must end in exactly two tokens.
pub fn rank_merges(tokens: &[Vec<u8>]) -> Result<Vec<(u32, u32, u32)>, String> {
    let mut rank: super::piece_map::FastMap<&[u8], u32> = Default::default();
    rank.reserve(tokens.len());
    rank.extend(tokens.iter().enumerate().map(|(i, t)| (t.as_slice(), i as u32)));
    let mut merges = Vec::with_capacity(tokens.len());
    let mut parts: Vec<&[u8]> = Vec::new();
    for (id, t) in tokens.iter().enumerate() {
        if t.len() < 2 {
            continue;
        }
        parts.clear();
        parts.extend((0..t.len()).map(|i| &t[i..i + 1]));
        loop {
            let mut best: Option<(usize, u32)> = None;
            for i in 0..parts.len() - 1 {
                let joined = &t[offset(&parts, i, t)..offset(&parts, i, t) + parts[i].len() + parts[i + 1].len()];
                if let Some(&r) = rank.get(joined) {
                    if r < id as u32 && best.is_none_or(|(_, b)| r < b) {
                        best = Some((i, r));
                    }
                }
            }
            let Some((i, _)) = best else { break };
            let start = offset(&parts, i, t);
            parts[i] = &t[start..start + parts[i].len() + parts[i + 1].len()];
            parts.remove(i + 1);
        }
        if parts.len() != 2 {
            return Err(format!("token {id} is not reachable by one merge ({} parts)", parts.len()));
        }
        merges.push((id as u32, rank[parts[0]], rank[parts[1]]));
    }
    Ok(merges)
}

/// `tokens[i]` is the token of rank (id) `i`. Returns the tokenizer.json text.
pub fn ranks_to_hf_json(tokens: &[Vec<u8>], pattern: &str, specials: &[(String, u32)]) -> Result<String, String> {
    let map = bytes_to_unicode();
    let show = |b: &[u8]| b.iter().map(|&x| map[x as usize]).collect::<String>();
    let mut vocab = serde_json::Map::new();
    for (id, t) in tokens.iter().enumerate() {
        vocab.insert(show(t), json!(id));
    }
    let merges: Vec<_> = rank_merges(tokens)?
        .into_iter()
        .map(|(_, l, r)| json!([show(&tokens[l as usize]), show(&tokens[r as usize])]))
        .collect();
    // Special tokens also in the model's vocabulary: `tokenizers` keeps an added token's id only
    // when the model knows it (otherwise it renumbers from the vocabulary's size).
    for (n, id) in specials {
        vocab.insert(n.clone(), json!(id));
    }
    let added: Vec<_> = specials
        .iter()
        .map(|(n, id)| {
            json!({"id": id, "content": n, "single_word": false, "lstrip": false, "rstrip": false,
                   "normalized": false, "special": true})
        })
        .collect();
    let doc = json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": null,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": pattern}, "behavior": "Isolated", "invert": false},
            {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}
        ]},
        "post_processor": null,
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
        "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                  "vocab": vocab, "merges": merges}
    });
    Ok(serde_json::to_string(&doc).expect("json"))
}

/// Byte offset of `parts[i]` within `t` (parts are consecutive sub-slices of `t`).
fn offset(parts: &[&[u8]], i: usize, t: &[u8]) -> usize {
    parts[i].as_ptr() as usize - t.as_ptr() as usize
}

/// cl100k_base (from bpe-openai's embedded vocabulary) as a tokenizer.json.
pub fn cl100k_base_json() -> String {
    let specials: Vec<(String, u32)> = CL100K_SPECIALS.iter().map(|(n, i)| (n.to_string(), *i)).collect();
    cl100k_json_with(&specials)
}

/// cl100k_base as a tokenizer.json without its special tokens: a special token's text in a
/// document is then encoded as text, as tiktoken's `encode_ordinary` (and `kbcurate`) does.
pub fn cl100k_base_ordinary_json() -> String {
    cl100k_json_with(&[])
}

fn cl100k_json_with(specials: &[(String, u32)]) -> String {
    builtin_json(bpe_openai::cl100k_base(), CL100K_HF_PATTERN, specials)
}

/// o200k_base (from bpe-openai's embedded vocabulary) as a tokenizer.json.
pub fn o200k_base_json() -> String {
    let specials: Vec<(String, u32)> = O200K_SPECIALS.iter().map(|(n, i)| (n.to_string(), *i)).collect();
    builtin_json(bpe_openai::o200k_base(), O200K_HF_PATTERN, &specials)
}

/// o200k_base as a tokenizer.json without its special tokens (see
/// [`cl100k_base_ordinary_json`]).
pub fn o200k_base_ordinary_json() -> String {
    builtin_json(bpe_openai::o200k_base(), O200K_HF_PATTERN, &[])
}

fn builtin_json(t: &bpe_openai::Tokenizer, pattern: &str, specials: &[(String, u32)]) -> String {
    ranks_to_hf_json(&builtin_tokens(t), pattern, specials).expect("a built-in vocabulary converts")
}

pub(crate) fn builtin_tokens(t: &bpe_openai::Tokenizer) -> Vec<Vec<u8>> {
    (0..t.bpe.num_tokens() as u32).map(|i| t.bpe.token_bytes(i).to_vec()).collect()
}
