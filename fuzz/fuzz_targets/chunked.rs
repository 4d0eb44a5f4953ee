//! The chunked decoder on arbitrary bytes: no panic, and feeding the input in two pieces gives
//! the same body, the same end and the same verdict as feeding it whole.
#![no_main]
use forkhorn::http::ChunkedDecoder;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (u16, &[u8])| {
    let (split, data) = input;
    let (mut whole_body, mut split_body) = (Vec::new(), Vec::new());
    let whole = ChunkedDecoder::new().decode(data, &mut whole_body);
    let mut dec = ChunkedDecoder::new();
    let k = usize::from(split).min(data.len());
    let split = dec.decode(&data[..k], &mut split_body).and_then(|first| {
        let second = dec.decode(&data[first.consumed..], &mut split_body)?;
        Ok((first.consumed + second.consumed, second.done || first.done))
    });
    assert_eq!(whole.map(|p| (p.consumed, p.done)), split);
    assert_eq!(whole_body, split_body);
});
