//! parse_head on arbitrary bytes and limits: no panic, and a prefix never decides otherwise
//! than the whole input (a complete head or an error found early stays so).
#![no_main]
use forkhorn::http::{parse_head, Head, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (u16, u16, u16, u16, &[u8])| {
    let (line, fields, size, split, buf) = input;
    let limits = Limits {
        request_line: line.into(),
        fields: fields.into(),
        field_size: size.into(),
    };
    let whole = parse_head(buf, &limits, &mut Head::default());
    let prefix = parse_head(&buf[..usize::from(split).min(buf.len())], &limits, &mut Head::default());
    assert!(
        prefix == Ok(None) || prefix == whole,
        "prefix {prefix:?}, whole {whole:?}"
    );
});
