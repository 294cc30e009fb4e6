//! Plain text: one document per file. Line breaks are kept; CRLF becomes LF.

use super::source::{decode_text, Emit, RawDoc, ReadContext, ReadError};

pub fn read(bytes: &[u8], _ctx: &ReadContext, out: &mut dyn FnMut(Emit)) -> Result<(), ReadError> {
    let (text, repaired) = decode_text(bytes);
    let text = if text.contains('\r') { text.replace("\r\n", "\n").replace('\r', "\n") } else { text.into_owned() };
    let mut doc = RawDoc { text, ..Default::default() };
    if repaired > 0 {
        doc.meta.insert("utf8_repaired_bytes".into(), repaired.into());
    }
    out(Emit::Doc(doc));
    Ok(())
}
