//! Just enough DER to read a node certificate's serial number, validity, common name and DNS
//! subject alt names (RFC 5280 §4.1, §4.1.2.5, §4.2.1.6), so that no X.509 parser crate enters the build. Inputs are
//! certificates a trusted CA already signed or files we wrote, but the reader still treats them
//! as untrusted: every length is checked and nothing panics.

use crate::error::PkiError;

const TAG_SEQUENCE: u8 = 0x30;
const TAG_INTEGER: u8 = 0x02;
const TAG_UTC_TIME: u8 = 0x17;
const TAG_GENERALIZED_TIME: u8 = 0x18;
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

/// The serial number as lower-case hex without leading zeros, so the form depends neither on
/// DER's sign padding nor on how an operator copied it.
pub(crate) fn serial_hex(cert_der: &[u8]) -> Result<String, PkiError> {
    let fields = tbs_fields(cert_der)?;
    let &(tag, serial) = fields.first().ok_or(err("no serial"))?;
    if tag != TAG_INTEGER {
        return Err(err("serial is not an integer"));
    }
    let hex: String = serial.iter().map(|b| format!("{b:02x}")).collect();
    Ok(hex.trim_start_matches('0').to_owned())
}

/// `notBefore` and `notAfter` in seconds since the Unix epoch.
pub(crate) fn validity(cert_der: &[u8]) -> Result<(i64, i64), PkiError> {
    let fields = tbs_fields(cert_der)?;
    let &(tag, validity) = fields.get(3).ok_or(err("no validity"))?;
    if tag != TAG_SEQUENCE {
        return Err(err("validity is not a sequence"));
    }
    let (t0, v0, rest) = tlv(validity)?;
    let (t1, v1, _) = tlv(rest)?;
    Ok((time(t0, v0)?, time(t1, v1)?))
}

/// UTCTime `YYMMDDHHMMSSZ` (years 1950..2049) or GeneralizedTime `YYYYMMDDHHMMSSZ`, the only
/// forms RFC 5280 §4.1.2.5 allows.
fn time(tag: u8, text: &[u8]) -> Result<i64, PkiError> {
    let digits = |s: &[u8]| -> Result<i64, PkiError> {
        s.iter().try_fold(0i64, |acc, &b| {
            if b.is_ascii_digit() {
                Ok(acc * 10 + i64::from(b - b'0'))
            } else {
                Err(err("time is not digits"))
            }
        })
    };
    let (year, rest) = match (tag, text.len()) {
        (TAG_UTC_TIME, 13) => {
            let yy = digits(&text[..2])?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, &text[2..])
        }
        (TAG_GENERALIZED_TIME, 15) => (digits(&text[..4])?, &text[4..]),
        _ => return Err(err("bad time")),
    };
    if rest[10] != b'Z' {
        return Err(err("time is not UTC"));
    }
    let (month, day) = (digits(&rest[0..2])?, digits(&rest[2..4])?);
    let (hour, minute, second) = (
        digits(&rest[4..6])?,
        digits(&rest[6..8])?,
        digits(&rest[8..10])?,
    );
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return Err(err("time out of range"));
    }
    Ok(days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second)
}

/// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
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

    #[test]
    fn times_convert_to_unix_seconds() {
        assert_eq!(time(TAG_UTC_TIME, b"700101000000Z").ok(), Some(0));
        assert_eq!(time(TAG_UTC_TIME, b"000301000000Z").ok(), Some(951_868_800));
        assert_eq!(
            time(TAG_GENERALIZED_TIME, b"20380119031408Z").ok(),
            Some(2_147_483_648)
        );
        assert_eq!(
            time(TAG_GENERALIZED_TIME, b"40960101000000Z").ok(),
            Some(67_090_118_400)
        );
        assert!(time(TAG_UTC_TIME, b"700101000000+").is_err());
        assert!(time(TAG_UTC_TIME, b"701301000000Z").is_err());
        assert!(time(TAG_GENERALIZED_TIME, b"700101000000Z").is_err());
    }

    proptest! {
        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = common_name(&bytes);
            let _ = dns_names(&bytes);
            let _ = serial_hex(&bytes);
            let _ = validity(&bytes);
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
