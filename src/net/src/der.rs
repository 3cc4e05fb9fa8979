//! Just enough DER to read a node certificate's common name and DNS subject alt names
//! (RFC 5280 §4.1, §4.2.1.6), so that no X.509 parser crate enters the build. Inputs are
//! certificates a trusted CA already signed or files we wrote, but the reader still treats them
//! as untrusted: every length is checked and nothing panics.

use crate::error::PkiError;

const TAG_SEQUENCE: u8 = 0x30;
const TAG_SET: u8 = 0x31;
const TAG_OID: u8 = 0x06;
const TAG_OCTET_STRING: u8 = 0x04;
const TAG_BOOLEAN: u8 = 0x01;
const TAG_EXTENSIONS: u8 = 0xA3;
const TAG_VERSION: u8 = 0xA0;
const TAG_DNS_NAME: u8 = 0x82;
const OID_COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];
const OID_SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1D, 0x11];

fn err(what: &'static str) -> PkiError {
    PkiError::Der(what)
}

/// Splits one TLV off `input`: (tag, content, rest).
fn tlv(input: &[u8]) -> Result<(u8, &[u8], &[u8]), PkiError> {
    let (&tag, rest) = input.split_first().ok_or(err("truncated tag"))?;
    if tag & 0x1f == 0x1f {
        return Err(err("multi-byte tags are not used in certificates"));
    }
    let (&first, rest) = rest.split_first().ok_or(err("truncated length"))?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return Err(err("bad length"));
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | b as usize);
        (len, &rest[n..])
    };
    if rest.len() < len {
        return Err(err("length past end"));
    }
    Ok((tag, &rest[..len], &rest[len..]))
}

fn expect(input: &[u8], want: u8) -> Result<(&[u8], &[u8]), PkiError> {
    let (tag, content, rest) = tlv(input)?;
    if tag != want {
        return Err(err("unexpected tag"));
    }
    Ok((content, rest))
}

/// TBSCertificate fields after the version: serial, signature, issuer, validity, subject,
/// subjectPublicKeyInfo, then optional unique ids and extensions.
fn tbs_fields(cert_der: &[u8]) -> Result<Vec<(u8, &[u8])>, PkiError> {
    let (cert, _) = expect(cert_der, TAG_SEQUENCE)?;
    let (mut tbs, _) = expect(cert, TAG_SEQUENCE)?;
    let mut fields = Vec::new();
    while !tbs.is_empty() {
        let (tag, content, rest) = tlv(tbs)?;
        if tag != TAG_VERSION {
            fields.push((tag, content));
        }
        tbs = rest;
    }
    Ok(fields)
}

/// The subject's common name, if any.
pub(crate) fn common_name(cert_der: &[u8]) -> Result<Option<String>, PkiError> {
    let fields = tbs_fields(cert_der)?;
    let &(tag, mut subject) = fields.get(4).ok_or(err("no subject"))?;
    if tag != TAG_SEQUENCE {
        return Err(err("subject is not a sequence"));
    }
    while !subject.is_empty() {
        let (mut set, rest) = expect(subject, TAG_SET)?;
        subject = rest;
        while !set.is_empty() {
            let (atv, rest) = expect(set, TAG_SEQUENCE)?;
            set = rest;
            let (oid, value) = expect(atv, TAG_OID)?;
            if oid == OID_COMMON_NAME {
                let (_, text, _) = tlv(value)?;
                let text = std::str::from_utf8(text).map_err(|_| err("common name not UTF-8"))?;
                return Ok(Some(text.to_owned()));
            }
        }
    }
    Ok(None)
}

/// All dNSName entries of the subject alt name extension.
pub(crate) fn dns_names(cert_der: &[u8]) -> Result<Vec<String>, PkiError> {
    let fields = tbs_fields(cert_der)?;
    let mut names = Vec::new();
    let Some(&(_, exts)) = fields.iter().find(|(tag, _)| *tag == TAG_EXTENSIONS) else {
        return Ok(names);
    };
    let (mut exts, _) = expect(exts, TAG_SEQUENCE)?;
    while !exts.is_empty() {
        let (ext, rest) = expect(exts, TAG_SEQUENCE)?;
        exts = rest;
        let (oid, mut ext) = expect(ext, TAG_OID)?;
        if oid != OID_SUBJECT_ALT_NAME {
            continue;
        }
        if let Ok((_, rest)) = expect(ext, TAG_BOOLEAN) {
            ext = rest;
        }
        let (octets, _) = expect(ext, TAG_OCTET_STRING)?;
        let (mut general_names, _) = expect(octets, TAG_SEQUENCE)?;
        while !general_names.is_empty() {
            let (tag, value, rest) = tlv(general_names)?;
            general_names = rest;
            if tag == TAG_DNS_NAME {
                let name = std::str::from_utf8(value).map_err(|_| err("dNSName not ASCII"))?;
                names.push(name.to_owned());
            }
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = common_name(&bytes);
            let _ = dns_names(&bytes);
        }

        #[test]
        fn long_lengths_are_rejected_not_trusted(len_bytes in proptest::collection::vec(any::<u8>(), 1..4)) {
            let mut input = vec![TAG_SEQUENCE, 0x80 | len_bytes.len() as u8];
            input.extend_from_slice(&len_bytes);
            // the declared length exceeds the (empty) remainder unless it is zero
            let declared = len_bytes.iter().fold(0usize, |a, &b| (a << 8) | b as usize);
            prop_assert_eq!(tlv(&input).is_ok(), declared == 0);
        }
    }
}
