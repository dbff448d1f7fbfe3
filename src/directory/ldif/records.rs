//! The LDIF parser (RFC 2849 content records), one record at a time from any `BufRead`, so a
//! 100 MB export is never held in memory whole: only the record being looked at is.

use std::io::BufRead;

use base64::Engine as _;

use crate::directory::entry::RawEntry;

/// Why a record could not be read; the source turns it into a `DirectoryError` that names
/// the file.
#[derive(Debug)]
pub(crate) enum RecordError {
    Syntax { line: usize, reason: String },
    Io(std::io::Error),
}

/// Content records of an LDIF stream: folded lines, comments, `::` base64 values, an optional
/// `version:` line, `changetype: add` (as ldifde writes it), CRLF endings and a UTF-8 byte
/// order mark. Records without a DN (ldapsearch's `search:`/`result:` trailer) are skipped.
pub(crate) struct Records<R> {
    reader: R,
    /// Number of the last physical line read (1-based).
    line_no: usize,
    /// A physical line read ahead to learn that the logical line before it had ended.
    pending: Option<(usize, String)>,
    records_seen: usize,
    buf: Vec<u8>,
    failed: bool,
}

impl<R: BufRead> Records<R> {
    pub fn new(reader: R) -> Self {
        Records {
            reader,
            line_no: 0,
            pending: None,
            records_seen: 0,
            buf: Vec::new(),
            failed: false,
        }
    }

    /// The next physical line without its line ending, or `None` at the end of the stream.
    fn physical(&mut self) -> Result<Option<(usize, String)>, RecordError> {
        if let Some(p) = self.pending.take() {
            return Ok(Some(p));
        }
        self.buf.clear();
        if self
            .reader
            .read_until(b'\n', &mut self.buf)
            .map_err(RecordError::Io)?
            == 0
        {
            return Ok(None);
        }
        self.line_no += 1;
        let mut bytes = self.buf.as_slice();
        if self.line_no == 1 {
            bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
        }
        bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        let line = std::str::from_utf8(bytes).map_err(|e| RecordError::Syntax {
            line: self.line_no,
            reason: format!(
                "the line is not UTF-8 (byte {}); export with UTF-8 output",
                e.valid_up_to() + 1
            ),
        })?;
        Ok(Some((self.line_no, line.to_string())))
    }

    /// The next logical line (continuations joined), skipping comments; `None` at the end.
    fn logical(&mut self) -> Result<Option<(usize, String)>, RecordError> {
        loop {
            let Some((no, mut line)) = self.physical()? else {
                return Ok(None);
            };
            if line.starts_with(' ') {
                return Err(RecordError::Syntax {
                    line: no,
                    reason: "a continuation line (starting with a space) follows nothing".into(),
                });
            }
            let comment = line.starts_with('#');
            while let Some((next_no, next)) = self.physical()? {
                match next.strip_prefix(' ') {
                    Some(_) if comment => {}
                    Some(_) if line.is_empty() => {
                        return Err(RecordError::Syntax {
                            line: next_no,
                            reason: "a continuation line (starting with a space) follows nothing"
                                .into(),
                        })
                    }
                    Some(cont) => line.push_str(cont),
                    None => {
                        self.pending = Some((next_no, next));
                        break;
                    }
                }
            }
            if !comment {
                return Ok(Some((no, line)));
            }
        }
    }

    fn next_record(&mut self) -> Result<Option<RawEntry>, RecordError> {
        let mut current: Option<RawEntry> = None;
        let mut skipping = false;
        while let Some((no, line)) = self.logical()? {
            if line.trim().is_empty() {
                if current.is_some() {
                    return Ok(current);
                }
                skipping = false;
                continue;
            }
            if skipping {
                continue;
            }
            let (attr, value) = parse_line(no, &line)?;
            match current.as_mut() {
                None if attr.eq_ignore_ascii_case("dn") => {
                    let dn = String::from_utf8(value).map_err(|_| RecordError::Syntax {
                        line: no,
                        reason: "the DN is not valid UTF-8".into(),
                    })?;
                    self.records_seen += 1;
                    current = Some(RawEntry { dn, attrs: vec![] });
                }
                None if attr.eq_ignore_ascii_case("version") && self.records_seen == 0 => {}
                None => skipping = true, // a record without a DN: ldapsearch's trailer
                Some(e) => {
                    if attr.eq_ignore_ascii_case("changetype") {
                        if !value.eq_ignore_ascii_case(b"add") {
                            return Err(RecordError::Syntax {
                                line: no,
                                reason: "only content records (or changetype: add) are accepted; this is a change file, not an export".into(),
                            });
                        }
                        continue;
                    }
                    e.push(attr, value);
                }
            }
        }
        Ok(current)
    }
}

impl<R: BufRead> Iterator for Records<R> {
    type Item = Result<RawEntry, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let item = self.next_record().transpose();
        self.failed = matches!(item, Some(Err(_)));
        item
    }
}

fn parse_line(no: usize, line: &str) -> Result<(&str, Vec<u8>), RecordError> {
    let bad = |reason: String| RecordError::Syntax { line: no, reason };
    let colon = line
        .find(':')
        .ok_or_else(|| bad("expected \"attribute: value\"".into()))?;
    let attr = line[..colon].trim();
    if attr.is_empty() || attr.contains(' ') {
        return Err(bad("invalid attribute name".into()));
    }
    let rest = &line[colon + 1..];
    if let Some(b64) = rest.strip_prefix(':') {
        let cleaned: String = b64.chars().filter(|c| !c.is_whitespace()).collect();
        let value = base64::engine::general_purpose::STANDARD
            .decode(cleaned.as_bytes())
            .map_err(|e| bad(format!("invalid base64 value of {attr}: {e}")))?;
        Ok((attr, value))
    } else if rest.starts_with('<') {
        Err(bad(format!(
            "{attr} refers to an external file (:<), which is not supported"
        )))
    } else {
        Ok((attr, rest.trim_start_matches(' ').as_bytes().to_vec()))
    }
}
