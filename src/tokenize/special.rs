//! BOS/EOS/PAD: looked up in the tokenizer by name or id. A token that is not there is an error
//! naming it and listing the tokenizer's special tokens — never a silent default.

use serde::{Deserialize, Serialize};

use super::encoder::Encoder;
use super::TokenizeError;

/// A special token as given on the command line: an id (digits) or a token's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRef {
    Id(u32),
    Name(String),
}

impl std::str::FromStr for TokenRef {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.is_empty() {
            return Err("empty token name".into());
        }
        Ok(match s.parse::<u32>() {
            Ok(id) => TokenRef::Id(id),
            Err(_) => TokenRef::Name(s.to_string()),
        })
    }
}

impl std::fmt::Display for TokenRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenRef::Id(id) => write!(f, "{id}"),
            TokenRef::Name(name) => f.write_str(name),
        }
    }
}

/// In configs, as on the command line: a token's text, or an id written as a string (`"7"`).
impl Serialize for TokenRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TokenRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<TokenRef, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// A resolved special token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Special {
    pub name: String,
    pub id: u32,
}

/// BOS, EOS and PAD as chosen (each optional).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Specials {
    pub bos: Option<Special>,
    pub eos: Option<Special>,
    pub pad: Option<Special>,
}

/// Looks `r` up for `role` (`bos`, `eos`, `pad`).
pub fn resolve(enc: &dyn Encoder, role: &str, r: &TokenRef) -> Result<Special, TokenizeError> {
    let known = || {
        let s: Vec<String> = enc.special_tokens().iter().map(|(n, i)| format!("{n} ({i})")).collect();
        if s.is_empty() {
            "it declares no special tokens; give an id".to_string()
        } else {
            format!("its special tokens: {}", s.join(", "))
        }
    };
    match r {
        TokenRef::Name(name) => match enc.token_to_id(name) {
            Some(id) => Ok(Special { name: name.clone(), id }),
            None => Err(TokenizeError::Invalid(format!(
                "--{role} `{name}`: the tokenizer ({}) has no such token; {}",
                enc.describe(),
                known()
            ))),
        },
        TokenRef::Id(id) => {
            if (*id as usize) >= enc.vocab_size() {
                return Err(TokenizeError::Invalid(format!(
                    "--{role} {id}: outside the vocabulary (size {}) of {}",
                    enc.vocab_size(),
                    enc.describe()
                )));
            }
            let name = enc.id_to_token(*id).ok_or_else(|| {
                TokenizeError::Invalid(format!("--{role} {id}: the tokenizer ({}) has no token {id}", enc.describe()))
            })?;
            Ok(Special { name, id: *id })
        }
    }
}

pub fn resolve_all(
    enc: &dyn Encoder,
    bos: Option<&TokenRef>,
    eos: Option<&TokenRef>,
    pad: Option<&TokenRef>,
) -> Result<Specials, TokenizeError> {
    Ok(Specials {
        bos: bos.map(|r| resolve(enc, "bos", r)).transpose()?,
        eos: eos.map(|r| resolve(enc, "eos", r)).transpose()?,
        pad: pad.map(|r| resolve(enc, "pad", r)).transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokenize::encoder;

    #[test]
    fn by_name_by_id_and_missing() {
        let e = encoder::load("cl100k_base").unwrap();
        let eos: TokenRef = "<|endoftext|>".parse().unwrap();
        assert_eq!(resolve(e.as_ref(), "eos", &eos).unwrap(), Special { name: "<|endoftext|>".into(), id: 100257 });
        let by_id: TokenRef = "100257".parse().unwrap();
        assert_eq!(resolve(e.as_ref(), "eos", &by_id).unwrap().name, "<|endoftext|>");
        let err = resolve(e.as_ref(), "bos", &"<s>".parse().unwrap()).unwrap_err().to_string();
        assert!(err.contains("--bos `<s>`") && err.contains("<|endoftext|> (100257)"), "{err}");
        let err = resolve(e.as_ref(), "pad", &TokenRef::Id(999_999)).unwrap_err().to_string();
        assert!(err.contains("outside the vocabulary"), "{err}");
    }
}
