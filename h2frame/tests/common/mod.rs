//! Test helpers: a tiny JSON reader (the crate may not depend on serde), hex, and a scripted
//! `ReadyRead` source that delivers chunks and `WouldBlock`s in a given order.
#![allow(dead_code)]

use slackwater_h2frame::{Buf, Pool, ReadyRead};
use std::collections::VecDeque;
use std::io;

/// A JSON value.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    pub fn get(&self, key: &str) -> &Json {
        match self {
            Json::Obj(kv) => kv
                .iter()
                .find(|(k, _)| k == key)
                .map_or(&Json::Null, |(_, v)| v),
            _ => &Json::Null,
        }
    }
    pub fn is_null(&self) -> bool {
        matches!(self, Json::Null)
    }
    pub fn u64(&self) -> u64 {
        match self {
            Json::Num(n) => *n as u64,
            other => panic!("not a number: {other:?}"),
        }
    }
    pub fn str(&self) -> &str {
        match self {
            Json::Str(s) => s,
            other => panic!("not a string: {other:?}"),
        }
    }
    pub fn arr(&self) -> &[Json] {
        match self {
            Json::Arr(a) => a,
            other => panic!("not an array: {other:?}"),
        }
    }
    pub fn bool(&self) -> bool {
        match self {
            Json::Bool(b) => *b,
            other => panic!("not a bool: {other:?}"),
        }
    }
}

pub fn parse_json(s: &str) -> Json {
    let b = s.as_bytes();
    let mut i = 0;
    let v = value(b, &mut i);
    ws(b, &mut i);
    assert_eq!(i, b.len(), "trailing bytes in JSON");
    v
}

fn ws(b: &[u8], i: &mut usize) {
    while *i < b.len() && b[*i].is_ascii_whitespace() {
        *i += 1;
    }
}

fn value(b: &[u8], i: &mut usize) -> Json {
    ws(b, i);
    match b[*i] {
        b'{' => {
            *i += 1;
            let mut kv = Vec::new();
            loop {
                ws(b, i);
                if b[*i] == b'}' {
                    *i += 1;
                    return Json::Obj(kv);
                }
                let Json::Str(k) = value(b, i) else {
                    panic!("bad key")
                };
                ws(b, i);
                assert_eq!(b[*i], b':');
                *i += 1;
                kv.push((k, value(b, i)));
                ws(b, i);
                if b[*i] == b',' {
                    *i += 1;
                }
            }
        }
        b'[' => {
            *i += 1;
            let mut a = Vec::new();
            loop {
                ws(b, i);
                if b[*i] == b']' {
                    *i += 1;
                    return Json::Arr(a);
                }
                a.push(value(b, i));
                ws(b, i);
                if b[*i] == b',' {
                    *i += 1;
                }
            }
        }
        b'"' => {
            *i += 1;
            let mut s = String::new();
            loop {
                match b[*i] {
                    b'"' => {
                        *i += 1;
                        return Json::Str(s);
                    }
                    b'\\' => {
                        *i += 1;
                        let c = match b[*i] {
                            b'n' => '\n',
                            b't' => '\t',
                            b'r' => '\r',
                            b'b' => '\u{8}',
                            b'f' => '\u{c}',
                            b'u' => {
                                let hex = std::str::from_utf8(&b[*i + 1..*i + 5]).unwrap();
                                *i += 4;
                                char::from_u32(u32::from_str_radix(hex, 16).unwrap()).unwrap()
                            }
                            c => c as char,
                        };
                        s.push(c);
                        *i += 1;
                    }
                    _ => {
                        let start = *i;
                        while b[*i] != b'"' && b[*i] != b'\\' {
                            *i += 1;
                        }
                        s.push_str(std::str::from_utf8(&b[start..*i]).unwrap());
                    }
                }
            }
        }
        b't' => {
            *i += 4;
            Json::Bool(true)
        }
        b'f' => {
            *i += 5;
            Json::Bool(false)
        }
        b'n' => {
            *i += 4;
            Json::Null
        }
        _ => {
            let start = *i;
            while *i < b.len() && matches!(b[*i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') {
                *i += 1;
            }
            Json::Num(std::str::from_utf8(&b[start..*i]).unwrap().parse().unwrap())
        }
    }
}

pub fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// One step of a scripted source.
#[derive(Debug, Clone)]
pub enum Step {
    Bytes(Vec<u8>),
    WouldBlock,
    /// An error of this kind, returned once (to blocking and non-blocking calls alike).
    Error(io::ErrorKind),
}

/// A `ReadyRead` that plays a script: byte chunks (split further if a read asks for fewer
/// bytes), `WouldBlock`s (which the blocking calls skip, as if they had waited) and errors.
/// After the script: end of stream.
#[derive(Debug, Default)]
pub struct Script {
    steps: VecDeque<Step>,
    pub reads: usize,
}

impl Script {
    pub fn new(steps: impl IntoIterator<Item = Step>) -> Script {
        Script {
            steps: steps.into_iter().collect(),
            reads: 0,
        }
    }

    /// `bytes` delivered in chunks of `chunk` bytes.
    pub fn chunked(bytes: &[u8], chunk: usize) -> Script {
        Script::new(bytes.chunks(chunk.max(1)).map(|c| Step::Bytes(c.to_vec())))
    }

    fn next(&mut self, size: usize, pool: &Pool, blocking: bool) -> io::Result<Option<Buf>> {
        loop {
            match self.steps.pop_front() {
                None => return Ok(None),
                Some(Step::WouldBlock) if blocking => continue,
                Some(Step::WouldBlock) => return Err(io::ErrorKind::WouldBlock.into()),
                Some(Step::Error(kind)) => return Err(kind.into()),
                Some(Step::Bytes(b)) if b.is_empty() => continue,
                Some(Step::Bytes(mut b)) => {
                    self.reads += 1;
                    let size = size.max(1);
                    if b.len() > size {
                        let rest = b.split_off(size);
                        self.steps.push_front(Step::Bytes(rest));
                    }
                    let mut buf = pool.get(size)?;
                    buf.extend_from_slice(&b).unwrap();
                    return Ok(Some(buf));
                }
            }
        }
    }
}

impl ReadyRead for Script {
    fn read_ready(&mut self, size: usize, pool: &Pool) -> io::Result<Option<Buf>> {
        self.next(size, pool, true)
    }
    fn try_read_ready(&mut self, size: usize, pool: &Pool) -> io::Result<Option<Buf>> {
        self.next(size, pool, false)
    }
    fn append_ready(&mut self, buf: &mut Buf, max: usize) -> io::Result<usize> {
        let max = max.min(buf.spare_capacity());
        if max == 0 {
            return Ok(0);
        }
        match self.next(max, slackwater_h2frame::global(), true)? {
            None => Ok(0),
            Some(b) => {
                buf.extend_from_slice(&b).unwrap();
                Ok(b.len())
            }
        }
    }
    fn try_append_ready(&mut self, buf: &mut Buf, max: usize) -> io::Result<usize> {
        let max = max.min(buf.spare_capacity());
        if max == 0 {
            return Ok(0);
        }
        match self.next(max, slackwater_h2frame::global(), false)? {
            None => Ok(0),
            Some(b) => {
                buf.extend_from_slice(&b).unwrap();
                Ok(b.len())
            }
        }
    }
}
