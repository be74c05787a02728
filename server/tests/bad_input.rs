//! A committed corpus of malformed suites and workflow definitions (`tests/corpus/`, each
//! file's first line says `# expect: <status> <text the answer must name>`), plus generated
//! extremes (10 MB bodies, deep nesting): each gets a 4xx naming the problem, nothing is
//! created, and the server answers as before.

mod common;

use std::path::Path;

use common::{ADMIN_TOKEN, Api, Server, http};

/// POST `body` with `content_type`; answers the status and the body as text.
async fn post(api: &Api, path: &str, content_type: &str, body: Vec<u8>) -> (u16, String) {
    let r = http()
        .post(format!("{}{path}", api.base))
        .bearer_auth(&api.token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await;
    match r {
        Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
        Err(e) => (0, format!("no answer: {e:?}")),
    }
}

/// Every corpus file of `dir` posted to `path`: the mismatches, described.
async fn corpus(api: &Api, dir: &str, path: &str) -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(dir);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    assert!(
        files.len() >= 10,
        "the corpus in {} is there",
        dir.display()
    );
    let mut wrong = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let expect = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{}: no `# expect:` line", file.display()));
        let (status, named) = expect.split_once(' ').unwrap_or((expect, ""));
        let (got, body) = post(api, path, "application/yaml", text.clone().into_bytes()).await;
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        if got.to_string() != status || !body.contains(named.trim()) {
            wrong.push(format!(
                "{name}: expected {status} naming `{}`, got {got}: {body}",
                named.trim()
            ));
        }
    }
    wrong
}

#[tokio::test]
async fn every_malformed_document_is_refused_naming_the_problem_and_the_server_is_unaffected() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[]).await;
    let api = Api::new(&server.base, ADMIN_TOKEN);
    let mut wrong = corpus(&api, "suites", "/api/v1/suites").await;
    wrong.extend(corpus(&api, "workflows", "/api/v1/workflows").await);

    // Generated extremes, in both formats.
    let ten_mb = format!(
        "name: x\ntarget: local\ndescription: {}\ntests:\n  - name: a\n",
        "x".repeat(10 << 20)
    );
    let deep_json = format!(
        "{{\"name\": {}1{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let deep_yaml = format!(
        "name: x\ntarget: local\ntests: {}1{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let huge_number = r#"{"name": "x", "target": "local", "tests": [{"name": "a", "workload": {"driver": "pgbench", "duration": "5s", "clients": 1e400}}]}"#;
    let wrong_types = r#"{"name": ["x"], "target": 5, "tests": {"name": "a"}}"#;
    let not_utf8 = vec![0xff, 0xfe, 0x00, 0x41];
    for (what, path, content_type, body, status, named) in [
        (
            "100,000 nested JSON arrays",
            "/api/v1/suites",
            "application/json",
            deep_json.clone().into_bytes(),
            400,
            "name",
        ),
        (
            "100,000 nested JSON arrays in a workflow",
            "/api/v1/workflows",
            "application/json",
            deep_json.into_bytes(),
            400,
            "name",
        ),
        (
            "100,000 nested YAML flow sequences",
            "/api/v1/suites",
            "application/yaml",
            deep_yaml.into_bytes(),
            400,
            "tests",
        ),
        (
            "a number past f64",
            "/api/v1/suites",
            "application/json",
            huge_number.into(),
            400,
            "clients",
        ),
        (
            "wrong types everywhere",
            "/api/v1/suites",
            "application/json",
            wrong_types.into(),
            400,
            "name",
        ),
        (
            "bytes that are no UTF-8",
            "/api/v1/suites",
            "application/yaml",
            not_utf8.clone(),
            400,
            "UTF-8",
        ),
        (
            "bytes that are no UTF-8, as JSON",
            "/api/v1/workflows",
            "application/json",
            not_utf8,
            400,
            "UTF-8",
        ),
    ] {
        let (got, body) = post(&api, path, content_type, body).await;
        if got != status || !body.contains(named) {
            wrong.push(format!(
                "{what}: expected {status} naming `{named}`, got {got}: {}",
                &body[..body.len().min(400)]
            ));
        }
    }
    // 10 MB: the server answers 413 before reading it all; curl reads that answer while
    // it sends (reqwest stops at the broken pipe instead).
    let big = data.path().join("ten-mb.yaml");
    std::fs::write(&big, ten_mb).unwrap();
    for path in ["/api/v1/suites", "/api/v1/workflows"] {
        let out = std::process::Command::new("curl")
            .args([
                "-s",
                "-w",
                "\n%{http_code}",
                "-H",
                "content-type: application/yaml",
                "-H",
            ])
            .arg(format!("authorization: Bearer {}", api.token))
            .arg("--data-binary")
            .arg(format!("@{}", big.display()))
            .arg(format!("{}{path}", api.base))
            .output()
            .expect("curl runs");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        if !(text.ends_with("\n413") && text.contains("at most 4194304 bytes")) {
            wrong.push(format!(
                "a 10 MB body to {path}: expected 413 naming the limit, got {text}"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} answers were not as expected:\n{}",
        wrong.len(),
        wrong.join("\n")
    );

    // Nothing was created, and the server is as it was.
    let (_, suites) = api.get("/api/v1/suites").await;
    assert_eq!(suites["suites"].as_array().unwrap().len(), 0, "{suites}");
    let (_, workflows) = api.get("/api/v1/workflows").await;
    let names: Vec<&str> = workflows
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|w| w["name"].as_str())
        .collect();
    assert!(
        !names.contains(&"w"),
        "no corpus workflow was registered: {names:?}"
    );
    let (status, ready) = api.get("/readyz").await;
    assert_eq!(status, 200, "{ready}");
    let (status, body) = api
        .post("/api/v1/workflows", &serde_json::json!({"name": "fine", "version": "1", "tasks": [{"name": "a", "action": "shell", "with": {"command": "true"}}]}))
        .await;
    assert_eq!(status, 201, "a good definition is still taken: {body}");
}
