//! Property tests of the multipart reader, the parser (multer), the part header guard and the
//! tree builder together: whatever body arrives, cut into whatever chunks, reading it ends in a
//! tree or a client error, never a panic; every file the tree names was staged, and nothing
//! staged outlives the request.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;

use super::*;

const BOUNDARY: &str = "kring-b0undary";

/// A staging directory of its own for every case, so the check that nothing is left behind
/// cannot see another case's files.
fn fresh_dir() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!(
        "kring-multipart-proptests-{}-{n}",
        std::process::id()
    ))
}

fn config(dir: PathBuf) -> Config {
    let mut config = Config::new("sqlite::memory:");
    config.files_dir = dir;
    config.body_limit = 8192;
    config.upload_file_limit = 1024;
    config.upload_request_limit = 64 * 1024;
    config
}

/// Reads `body` in chunks of `chunk` bytes, as a request's body arrives; checks that every file
/// the tree names was staged, and that dropping the input removed every staged file.
fn read_body(content_type: &str, body: Vec<u8>, chunk: usize) -> Result<Map<String, Json>, Error> {
    let dir = fresh_dir();
    let config = config(dir.clone());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let result = runtime.block_on(async {
        let chunks = tokio_util::io::ReaderStream::with_capacity(std::io::Cursor::new(body), chunk);
        let shared = SharedBody::new(Body::from_stream(chunks));
        let mut input = Input {
            values: Map::new(),
            staged: HashMap::new(),
            content_types: HashMap::new(),
            store: Arc::new(FileStore::new(&config).unwrap()),
        };
        let result = read_multipart(shared, content_type, &config, &mut input).await;
        if let Ok(values) = &result {
            let mut keys = Vec::new();
            storage_keys(&Json::Object(values.clone()), &mut keys);
            for key in keys {
                assert!(
                    input.staged(&key).is_some(),
                    "{key} is named but was not staged"
                );
            }
        }
        result
    });
    let left: Vec<_> = std::fs::read_dir(dir.join("incoming"))
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(left.is_empty(), "staged files left behind: {left:?}");
    result
}

fn storage_keys(value: &Json, keys: &mut Vec<String>) {
    match value {
        Json::Array(items) => items.iter().for_each(|v| storage_keys(v, keys)),
        Json::Object(map) => match map.get(FILE_MARKER) {
            Some(file) => keys.extend(file["storage_key"].as_str().map(str::to_string)),
            None => map.values().for_each(|v| storage_keys(v, keys)),
        },
        _ => {}
    }
}

/// The refusals a client can cause; anything else (a 500) is a bug.
fn is_client_error(error: &Error) -> bool {
    matches!(
        error,
        Error::BadBody(_) | Error::FormTooLarge(_) | Error::PayloadTooLarge { .. }
    )
}

/// Bytes near the multipart grammar: delimiters, header lines with odd parameters, bracket
/// names, and runs long enough to pass the header, text and file limits.
fn multipartish() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        10 => prop::sample::select(vec![
            "\r\n",
            "--kring-b0undary",
            "\r\n--kring-b0undary\r\n",
            "\r\n--kring-b0undary--\r\n",
            "--kring-b0undary--",
            "--kring-b0und",
            "Content-Disposition: form-data; name=\"a\"\r\n\r\n",
            "Content-Disposition: form-data; name=\"f[]\"; filename=\"a.pdf\"\r\n\r\n",
            "Content-Disposition: form-data; name=\"f[x]y\"; filename=\"a.pdf\"\r\n\r\n",
            "Content-Disposition: form-data; name=\"e\"; filename=\"\"\r\n\r\n",
            "Content-Disposition: form-data; name=\"u\"; filename*=UTF-8''%C3%A9.txt\r\n\r\n",
            "Content-Disposition: form-data; name=\"c[52][value]\"\r\n\r\n",
            "Content-Disposition: form-data; name=\"a[[[[[[\"\r\n\r\n",
            "Content-Disposition: form-data; name=a\r\n\r\n",
            "Content-Disposition: form-data\r\n\r\n",
            "Content-Disposition: attachment; name=\"\u{0}\"\r\n\r\n",
            "Content-Disposition: form-data; name=\"C:\\\\x\\\\\"; filename=\"..\\\\..\\\\b.txt\"\r\n\r\n",
            "Content-Type: text/plain; charset=utf-8\r\n",
            "Content-Type: \r\n",
            "X: y\r\n",
            ": \r\n",
            "value",
            "é",
            "\u{0}",
        ])
        .prop_map(|token| token.as_bytes().to_vec()),
        2 => prop::collection::vec(any::<u8>(), 0..16),
        1 => (1usize..20_000).prop_map(|n| vec![b'v'; n]),
    ];
    let soup = prop::collection::vec(token, 0..24).prop_map(|tokens| tokens.concat());
    prop_oneof![1 => soup, 3 => multipart_shaped()]
}

/// Parts laid out as a client lays them out, their header lines and contents drawn from the
/// odd as well as the usual; the body may stop early or run on after its end.
fn multipart_shaped() -> impl Strategy<Value = Vec<u8>> {
    let header = prop::sample::select(vec![
        "Content-Disposition: form-data; name=\"a\"\r\n",
        "Content-Disposition: form-data; name=\"a[b][]\"\r\n",
        "Content-Disposition: form-data; name=\"c[52][value]\"\r\n",
        "Content-Disposition: form-data; name=\"f[]\"; filename=\"a.pdf\"\r\n",
        "Content-Disposition: form-data; name=\"f[]\"; filename=\"\"\r\n",
        "Content-Disposition: form-data; name=\"f[x]y\"; filename=\"b.txt\"\r\n",
        "Content-Disposition: form-data; name=\"profile_photo_path\"; filename=\"C:\\\\p\\\\me.png\"\r\n",
        "Content-Disposition: form-data; name=\"u\"; filename*=UTF-8''%C3%A9.txt\r\n",
        "Content-Disposition: form-data; name=\"\"\r\n",
        "Content-Disposition: form-data; name=\"a\u{0}b\"\r\n",
        "Content-Disposition: form-data; name=\"a\"; name=\"b\"\r\n",
        "Content-Disposition: form-data\r\n",
        "Content-Type: application/pdf\r\n",
        "Content-Type: \r\n",
        "X-Odd: \u{e9}\r\n",
        "no colon\r\n",
    ]);
    let content = prop_oneof![
        3 => prop::collection::vec(any::<u8>(), 0..64),
        1 => (1usize..3000).prop_map(|n| vec![b'%'; n]),
        1 => Just(b"%PDF-1.7 \x89PNG\r\n\x1a\n".to_vec()),
        1 => Just(b"\r\n--kring-b0und\r\n--kring-b0undaryX".to_vec()),
    ];
    let part = (prop::collection::vec(header, 0..4), content);
    let ending = prop::sample::select(vec![
        "--kring-b0undary--\r\n",
        "--kring-b0undary--",
        "",
        "--kring-b0undary\r\n",
        "--kring-b0undary--\r\nepilogue",
    ]);
    (
        prop::collection::vec(part, 0..8),
        ending,
        prop::option::weighted(0.1, any::<prop::sample::Index>()),
    )
        .prop_map(|(parts, ending, cut)| {
            let mut body = Vec::new();
            for (headers, content) in parts {
                body.extend_from_slice(
                    format!("--{BOUNDARY}\r\n{}\r\n", headers.concat()).as_bytes(),
                );
                body.extend_from_slice(&content);
                body.extend_from_slice(b"\r\n");
            }
            body.extend_from_slice(ending.as_bytes());
            if let Some(cut) = cut {
                body.truncate(cut.index(body.len() + 1));
            }
            body
        })
}

/// A well-formed part: a unique plain name, and text or a small file.
#[derive(Debug, Clone)]
struct Part {
    name: String,
    file: Option<String>,
    content: Vec<u8>,
}

fn parts() -> impl Strategy<Value = Vec<Part>> {
    let part = (
        prop::option::of("[a-z]{1,6}\\.(txt|pdf|bin)"),
        prop::collection::vec(any::<u8>(), 0..200),
        any::<String>(),
    )
        .prop_map(|(file, bytes, text)| {
            let content = if file.is_some() {
                bytes
            } else {
                text.into_bytes()
            };
            Part {
                name: String::new(),
                file,
                content,
            }
        });
    prop::collection::vec(part, 0..6).prop_map(|parts| {
        parts
            .into_iter()
            .enumerate()
            .map(|(i, part)| Part {
                name: format!("p{i}"),
                ..part
            })
            .collect()
    })
}

fn encode(parts: &[Part]) -> Vec<u8> {
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        let disposition = match &part.file {
            Some(file) => format!("name=\"{}\"; filename=\"{file}\"", part.name),
            None => format!("name=\"{}\"", part.name),
        };
        body.extend_from_slice(
            format!("Content-Disposition: form-data; {disposition}\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(&part.content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_multipart_body_gets_an_answer(
        body in multipartish(),
        chunk in prop_oneof![1usize..8, 8usize..70_000],
        content_type in prop::sample::select(vec![
            "multipart/form-data; boundary=kring-b0undary",
            "multipart/form-data; boundary=\"kring-b0undary\"",
            "multipart/form-data; charset=utf-8; boundary=kring-b0undary",
            "multipart/form-data",
            "multipart/form-data; boundary=",
            "multipart/form-data; boundary=\"\"",
        ]),
    ) {
        if let Err(error) = read_body(content_type, body, chunk) {
            prop_assert!(is_client_error(&error), "{:?}", error);
        }
    }

    #[test]
    fn well_formed_parts_read_back(parts in parts(), chunk in 1usize..300) {
        let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
        let values = read_body(&content_type, encode(&parts), chunk).unwrap();
        prop_assert_eq!(values.len(), parts.len());
        for part in &parts {
            let value = &values[&part.name];
            match &part.file {
                None => {
                    let text = String::from_utf8_lossy(&part.content);
                    prop_assert_eq!(value.as_str(), Some(text.as_ref()));
                }
                Some(file) => {
                    let marker = &value[FILE_MARKER];
                    prop_assert_eq!(marker["original_name"].as_str(), Some(file.as_str()));
                    prop_assert_eq!(marker["size"].as_u64(), Some(part.content.len() as u64));
                }
            }
        }
    }
}
