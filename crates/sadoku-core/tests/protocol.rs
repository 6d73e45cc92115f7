//! The judge–worker protocol's golden frames (`tests/protocol/dialogue.json`, docs/PROTOCOL.md):
//! every request and answer there parses as the Rust enums and serializes back unchanged, and the
//! golden byte stream decodes with the judge's frame reader. The Python worker's test
//! (`python/tests/test_protocol.py`) holds its own side to the same file, so a change to either
//! side's idea of a message fails one of the two.

use std::io::Cursor;

use sadoku_core::protocol::{Request, Response, read_frame, write_frame};
use serde_json::Value;

fn dialogue() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/protocol/dialogue.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("the golden dialogue")).expect("valid JSON")
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect()
}

#[test]
fn every_golden_header_is_a_message_of_the_rust_enums_unchanged() {
    let d = dialogue();
    let exchanges = d["exchanges"].as_array().expect("exchanges");
    assert!(exchanges.len() >= 7);
    for e in exchanges {
        let request: Request = serde_json::from_value(e["request"].clone())
            .unwrap_or_else(|err| panic!("{} is no Request: {err}", e["request"]));
        assert_eq!(serde_json::to_value(&request).unwrap(), e["request"], "the request round-trips");
        let response: Response = serde_json::from_value(e["response"].clone())
            .unwrap_or_else(|err| panic!("{} is no Response: {err}", e["response"]));
        assert_eq!(serde_json::to_value(&response).unwrap(), e["response"], "the answer round-trips");
    }
    // A header that is no message is refused, not read as something else.
    assert!(serde_json::from_value::<Request>(serde_json::json!({"Alloc": "eight"})).is_err());
    assert!(serde_json::from_value::<Request>(serde_json::json!("Launch")).is_err());
}

#[test]
fn the_golden_byte_stream_decodes_and_frames_round_trip() {
    let d = dialogue();
    let frame = &d["frame"];
    let mut stream = Cursor::new(hex(frame["hex"].as_str().unwrap()));
    for (header, payload) in frame["headers"].as_array().unwrap().iter().zip(frame["payloads"].as_array().unwrap()) {
        let (h, p) = read_frame(&mut stream).expect("readable").expect("a frame");
        assert_eq!(&serde_json::from_slice::<Value>(&h).unwrap(), header);
        assert_eq!(p, hex(payload.as_str().unwrap()));
        let mut again = Vec::new();
        write_frame(&mut again, header, &p).unwrap();
        let (h2, p2) = read_frame(&mut Cursor::new(again)).unwrap().unwrap();
        assert_eq!(serde_json::from_slice::<Value>(&h2).unwrap(), *header);
        assert_eq!(p2, p);
    }
    assert!(read_frame(&mut stream).unwrap().is_none(), "a clean end of stream after the last frame");
    // A truncated frame is an error, never a short message.
    let mut cut = Cursor::new(hex(frame["hex"].as_str().unwrap())[..20].to_vec());
    assert!(read_frame(&mut cut).is_err());
}
