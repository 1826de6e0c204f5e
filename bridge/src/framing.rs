//! Native-messaging framing: a 32-bit length in native byte order, then that many bytes of
//! UTF-8 JSON. Requests over [`MAX_REQUEST`] are refused; answers never exceed
//! [`MAX_ANSWER`] (the browser's limit for messages from a host).

use std::collections::BTreeMap;
use std::io::{self, Read, Write};

use serde::de::IgnoredAny;
use serde_json::Value;
use zeroize::Zeroizing;

use crate::error::{BridgeError, Code};

/// Largest request accepted (the host's requests are small: a nonce, a hash, a PIN).
pub const MAX_REQUEST: usize = 64 * 1024;
/// Largest answer the browser accepts from a host (1 MiB).
pub const MAX_ANSWER: usize = 1024 * 1024;

/// Why a frame could not be read.
#[derive(Debug)]
pub enum FrameError {
    /// The announced length is over [`MAX_REQUEST`].
    TooLarge(usize),
    /// The stream ended inside a frame.
    Truncated,
    /// The body is not a JSON object.
    NotJson(String),
    /// Reading failed.
    Io(io::Error),
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::TooLarge(n) => write!(f, "request of {n} bytes is over the limit of {MAX_REQUEST}"),
            FrameError::Truncated => f.write_str("the input ended inside a message"),
            FrameError::NotJson(e) => write!(f, "the message is not a JSON object: {e}"),
            FrameError::Io(e) => write!(f, "reading the message failed: {e}"),
        }
    }
}

fn read_full(input: &mut impl Read, buf: &mut [u8]) -> Result<usize, io::Error> {
    let mut done = 0;
    while done < buf.len() {
        match input.read(&mut buf[done..]) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// Reads one frame's bytes: `Ok(None)` at a clean end of input (before a frame starts). The
/// buffer is wiped when dropped (a request may hold the PIN).
pub fn read_frame(input: &mut impl Read) -> Result<Option<Zeroizing<Vec<u8>>>, FrameError> {
    let mut len = [0u8; 4];
    match read_full(input, &mut len).map_err(FrameError::Io)? {
        0 => return Ok(None),
        4 => {}
        _ => return Err(FrameError::Truncated),
    }
    let len = u32::from_ne_bytes(len) as usize;
    if len > MAX_REQUEST {
        return Err(FrameError::TooLarge(len));
    }
    let mut body = Zeroizing::new(vec![0u8; len]);
    if read_full(input, &mut body).map_err(FrameError::Io)? != len {
        return Err(FrameError::Truncated);
    }
    check_object(&body)?;
    Ok(Some(body))
}

/// Checks that `body` is one JSON object, without copying its values.
fn check_object(body: &[u8]) -> Result<(), FrameError> {
    serde_json::from_slice::<BTreeMap<String, IgnoredAny>>(body).map(drop).map_err(|e| {
        if serde_json::from_slice::<IgnoredAny>(body).is_ok() {
            FrameError::NotJson("not an object".into())
        } else {
            FrameError::NotJson(e.to_string())
        }
    })
}

/// Reads one request as a JSON value: `Ok(None)` at a clean end of input.
pub fn read_message(input: &mut impl Read) -> Result<Option<Value>, FrameError> {
    match read_frame(input)? {
        None => Ok(None),
        Some(body) => serde_json::from_slice(&body).map(Some).map_err(|e| FrameError::NotJson(e.to_string())),
    }
}

/// The host loop: reads requests until the input ends and answers each with exactly one
/// message made by `handle` (given the bytes of a JSON object). Returns the exit status: 0
/// at a clean end of input, 1 after a frame that could not be read (answered with
/// `ERR_WEBEID_INVALID_ARGUMENT` when the output is still writable) or when the output is
/// gone.
pub fn serve(mut input: impl Read, mut output: impl Write, mut handle: impl FnMut(&[u8]) -> Value) -> i32 {
    loop {
        match read_frame(&mut input) {
            Ok(None) => return 0,
            Ok(Some(body)) => {
                let answer = handle(&body);
                drop(body);
                if write_message(&mut output, &answer).is_err() {
                    return 1;
                }
            }
            Err(e) => {
                eprintln!("shikaku-bridge: {e}");
                if !matches!(e, FrameError::Io(_)) {
                    let error = BridgeError::new(Code::InvalidArgument, e.to_string());
                    let _ = write_message(&mut output, &error.to_json());
                }
                return 1;
            }
        }
    }
}

/// Writes one answer. An answer over [`MAX_ANSWER`] is replaced by an error answer.
pub fn write_message(output: &mut impl Write, value: &Value) -> io::Result<()> {
    let mut body = serde_json::to_vec(value).map_err(io::Error::other)?;
    if body.len() > MAX_ANSWER {
        let error = BridgeError::new(Code::NativeFatal, "answer too large");
        body = serde_json::to_vec(&error.to_json()).map_err(io::Error::other)?;
    }
    let len = u32::try_from(body.len()).map_err(io::Error::other)?;
    output.write_all(&len.to_ne_bytes())?;
    output.write_all(&body)?;
    output.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn frame(body: &[u8]) -> Vec<u8> {
        let mut v = (body.len() as u32).to_ne_bytes().to_vec();
        v.extend_from_slice(body);
        v
    }

    /// Fuzzing (stable toolchain, `hpki::testpki::mutate`): mutated streams of frames never
    /// panic the host loop, every answer it writes is one well-formed frame holding a JSON
    /// object, and it writes at most one answer per request it read.
    #[test]
    fn mutated_frame_streams_get_well_formed_answers() {
        let mut seeds = Vec::new();
        for bodies in [
            vec![&br#"{"command":"status","origin":"https://idp.example.jp"}"#[..]],
            vec![&br#"{"command":"authenticate","nonce":"bm9uY2U=","pin":"1234"}"#[..], b"{}"],
            vec![&br#"{"command":"sign","hash":"AAAA","hashFunction":"SHA-256"}"#[..], b"[1,2]", b"{\"a\":"],
        ] {
            seeds.push(bodies.iter().flat_map(|b| frame(b)).collect::<Vec<u8>>());
        }
        hpki::testpki::mutate::run("native-messaging frames", &seeds, 3000, |input| {
            let mut requests = 0;
            let mut out = Vec::new();
            let status = serve(input, &mut out, |_| {
                requests += 1;
                json!({ "ok": true })
            });
            assert!(status == 0 || status == 1, "status {status}");
            let mut answers = 0;
            let mut rest = &out[..];
            while !rest.is_empty() {
                let len = u32::from_ne_bytes(rest[..4].try_into().unwrap()) as usize;
                let answer: Value = serde_json::from_slice(&rest[4..4 + len]).unwrap();
                assert!(answer.is_object(), "{answer}");
                rest = &rest[4 + len..];
                answers += 1;
            }
            assert!(answers <= requests + 1, "{answers} answers to {requests} requests");
        });
    }

    #[test]
    fn two_messages_then_a_clean_end() {
        let mut input = frame(br#"{"command":"status"}"#);
        input.extend(frame(br#"{"command":"pin-info"}"#));
        let mut r = input.as_slice();
        assert_eq!(read_message(&mut r).unwrap().unwrap()["command"], "status");
        assert_eq!(read_message(&mut r).unwrap().unwrap()["command"], "pin-info");
        assert!(read_message(&mut r).unwrap().is_none());
    }

    #[test]
    fn oversized_truncated_and_non_json_are_errors() {
        let big = ((MAX_REQUEST + 1) as u32).to_ne_bytes();
        assert!(
            matches!(read_message(&mut big.as_slice()), Err(FrameError::TooLarge(n)) if n == MAX_REQUEST + 1)
        );
        assert!(matches!(read_message(&mut [1u8, 0].as_slice()), Err(FrameError::Truncated)));
        let short = &frame(br#"{"command":"status"}"#)[..10];
        assert!(matches!(read_message(&mut &short[..]), Err(FrameError::Truncated)));
        assert!(matches!(read_message(&mut frame(b"not json").as_slice()), Err(FrameError::NotJson(_))));
        assert!(matches!(read_message(&mut frame(b"[1,2]").as_slice()), Err(FrameError::NotJson(_))));
    }

    fn answers(out: &[u8]) -> Vec<Value> {
        let mut r = out;
        let mut v = Vec::new();
        while !r.is_empty() {
            let len = u32::from_ne_bytes(r[..4].try_into().unwrap()) as usize;
            v.push(serde_json::from_slice(&r[4..4 + len]).unwrap());
            r = &r[4 + len..];
        }
        v
    }

    #[test]
    fn serve_answers_each_request_and_ends_cleanly() {
        let mut input = frame(br#"{"command":"status"}"#);
        input.extend(frame(br#"{"command":"x","n":[1,{"a":null}]}"#));
        let mut out = Vec::new();
        let mut seen = Vec::new();
        let code = serve(input.as_slice(), &mut out, |b| {
            seen.push(String::from_utf8(b.to_vec()).unwrap());
            json!({"ok": seen.len()})
        });
        assert_eq!(code, 0);
        assert_eq!(seen.len(), 2);
        assert_eq!(answers(&out), vec![json!({"ok": 1}), json!({"ok": 2})]);
        let mut out = Vec::new();
        assert_eq!(serve(&[][..], &mut out, |_| json!({})), 0);
        assert!(out.is_empty(), "no request, no answer");
    }

    #[test]
    fn serve_stops_with_status_1_on_a_bad_frame() {
        for (input, what) in [
            (((MAX_REQUEST + 1) as u32).to_ne_bytes().to_vec(), "over the limit"),
            (frame(br#"{"command":"#)[..9].to_vec(), "ended inside"),
            (frame(b"\xff not json"), "not a JSON object"),
            (frame(b"\"text\""), "not an object"),
        ] {
            let mut input = input;
            if what != "ended inside" {
                input.extend(frame(br#"{"command":"status"}"#));
            }
            let mut out = Vec::new();
            let mut calls = 0;
            let code = serve(input.as_slice(), &mut out, |_| {
                calls += 1;
                json!({})
            });
            assert_eq!(code, 1, "{what}");
            let a = answers(&out);
            assert_eq!(a.len(), 1, "{what}: one error answer");
            assert_eq!(a[0]["error"]["code"], "ERR_WEBEID_INVALID_ARGUMENT", "{what}");
            assert!(a[0]["error"]["message"].as_str().unwrap().contains(what), "{what}: {}", a[0]);
            assert_eq!(calls, 0, "{what}: nothing after a bad frame is read");
        }
    }

    #[test]
    fn answers_are_length_prefixed_and_bounded() {
        let mut out = Vec::new();
        write_message(&mut out, &json!({"version": "1"})).unwrap();
        assert_eq!(u32::from_ne_bytes(out[..4].try_into().unwrap()) as usize, out.len() - 4);
        let mut out = Vec::new();
        write_message(&mut out, &json!({"certificate": "x".repeat(MAX_ANSWER)})).unwrap();
        assert!(out.len() < 200);
        assert!(String::from_utf8_lossy(&out).contains("ERR_WEBEID_NATIVE_FATAL"));
    }
}
