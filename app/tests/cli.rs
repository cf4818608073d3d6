//! The `ibasho` binary as a person uses it: commands, outputs, exit codes and error messages.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

struct Ibasho {
    home: tempfile::TempDir,
}

impl Ibasho {
    fn new() -> Self {
        Ibasho {
            home: tempfile::tempdir().unwrap(),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_ibasho"))
            .arg("--home")
            .arg(self.home.path())
            .args(args)
            .env_remove("IBASHO_LANG")
            .output()
            .unwrap()
    }

    /// Runs and expects success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "ibasho {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs and expects failure; returns stderr.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(!out.status.success(), "ibasho {args:?} should fail");
        assert!(out.stdout.is_empty(), "nothing on stdout when failing");
        String::from_utf8(out.stderr).unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }

    fn init(&self, person: &str) {
        self.ok(&[
            "init",
            "--name",
            "座間市 孤独・孤立官民連携PF",
            "--person",
            person,
        ]);
    }

    fn add_cafe(&self, name: &str) -> String {
        self.ok(&[
            "place",
            "add",
            "--name",
            name,
            "--category",
            "喫茶ランドリー",
            "--lat",
            "35.4889",
            "--lon",
            "139.4075",
            "--target",
            "高齢者,子育て中",
            "--hours",
            "Mo-Sa 09:00-18:00; PH off",
            "--address",
            "座間市相武台1-1",
        ])
        .trim()
        .to_string()
    }
}

#[test]
fn a_workspace_is_needed_first_and_the_error_says_how() {
    let ibasho = Ibasho::new();
    let err = ibasho.fails(&["place", "list"]);
    assert!(err.contains("ibasho init"), "{err}");
}

#[test]
fn places_are_added_listed_searched_edited_and_shown() {
    let ibasho = Ibasho::new();
    ibasho.init("佐藤");
    let id = ibasho.add_cafe("喫茶ランドリー座間");
    assert_eq!(id.len(), 32);
    ibasho.ok(&["place", "set", &id, "name", "喫茶ランドリー相武台"]);

    let list = ibasho.json(&["place", "list", "--json", "--search", "ランドリー"]);
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(list[0]["name"], "喫茶ランドリー相武台");
    assert_eq!(
        list[0]["targets"],
        serde_json::json!(["elderly", "parenting"])
    );
    let near = ibasho.json(&[
        "place",
        "list",
        "--json",
        "--near",
        "35.49,139.41",
        "--radius-m",
        "500",
    ]);
    assert!(near[0]["distance_m"].as_f64().unwrap() < 500.0);
    let far = ibasho.json(&[
        "place",
        "list",
        "--json",
        "--near",
        "38.26,140.87",
        "--radius-m",
        "500",
    ]);
    assert_eq!(far, serde_json::json!([]));
    assert_eq!(
        ibasho.json(&["place", "list", "--json", "--category", "library"]),
        serde_json::json!([])
    );

    let shown = ibasho.ok(&["place", "show", &id]);
    assert!(shown.contains("名称: 喫茶ランドリー相武台"), "{shown}");
    assert!(
        shown.contains("対象: 高齢者（ひとり暮らし）、子育て中"),
        "{shown}"
    );
    let history = ibasho.json(&["place", "history", &id, "--json"]);
    assert_eq!(history[0]["by"], "佐藤");
    assert_eq!(history[1]["fields"], serde_json::json!(["name"]));

    ibasho.ok(&["place", "delete", &id]);
    assert_eq!(
        ibasho.json(&["place", "list", "--json"]),
        serde_json::json!([])
    );
    ibasho.ok(&["place", "restore", &id]);
    assert_eq!(
        ibasho
            .json(&["place", "list", "--json"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn bad_input_names_the_field_in_japanese_or_english_and_changes_nothing() {
    let ibasho = Ibasho::new();
    ibasho.init("佐藤");
    let id = ibasho.add_cafe("喫茶ランドリー");
    let before = ibasho.ok(&["place", "list", "--json"]);

    let err = ibasho.fails(&[
        "place",
        "add",
        "--name",
        "ぬるぽ",
        "--category",
        "cafe",
        "--lat",
        "0",
        "--lon",
        "0",
    ]);
    assert!(err.starts_with("エラー: 位置:"), "{err}");
    let err = ibasho.fails(&[
        "--lang",
        "en",
        "place",
        "add",
        "--name",
        "x",
        "--category",
        "casino",
        "--lat",
        "35",
        "--lon",
        "139",
    ]);
    assert!(
        err.starts_with("error: category \"casino\" is not one of the allowed values"),
        "{err}"
    );
    let err = ibasho.fails(&["--lang", "en", "place", "set", &id, "hours", "whenever"]);
    assert!(err.contains("opening hours"), "{err}");
    let err = ibasho.fails(&["--lang", "en", "place", "set", &id, "lat", "-91"]);
    assert!(err.contains("latitude must be between -90 and 90"), "{err}");
    let err = ibasho.fails(&["place", "set", "no-such-id", "name", "x"]);
    assert!(err.contains("no-such-id"), "{err}");
    let err = ibasho.fails(&[
        "place",
        "add",
        "--name",
        "",
        "--category",
        "cafe",
        "--lat",
        "35",
        "--lon",
        "139",
    ]);
    assert!(err.contains("名称: 入力してください"), "{err}");

    assert_eq!(ibasho.ok(&["place", "list", "--json"]), before);
}

#[test]
fn taxonomy_lists_every_term_with_both_labels() {
    let ibasho = Ibasho::new();
    let tax = ibasho.json(&["taxonomy", "--json"]);
    for list in ["categories", "target_groups", "sectors", "contact_types"] {
        let terms = tax[list].as_array().unwrap();
        assert!(!terms.is_empty(), "{list}");
        for t in terms {
            assert!(t["label"]["ja"].as_str().is_some_and(|s| !s.is_empty()));
            assert!(t["label"]["en"].as_str().is_some_and(|s| !s.is_empty()));
        }
    }
    assert!(
        tax["categories"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == "laundry_cafe" && t["label"]["ja"] == "喫茶ランドリー")
    );
    assert!(
        tax["target_groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["label"]["ja"] == "ひきこもり")
    );
    assert!(ibasho.ok(&["taxonomy"]).contains("子ども食堂"));
}

#[test]
fn visits_keep_private_notes_on_the_device_and_list_follow_ups_due() {
    let ibasho = Ibasho::new();
    ibasho.init("佐藤");
    let place = ibasho.add_cafe("喫茶ランドリー");
    let today = ibasho_shared::hours::now_jst().date().to_string();
    let visit = ibasho.ok(&[
        "visit",
        "add",
        "--place",
        &place,
        "--kind",
        "訪問",
        "--people",
        "3",
        "--follow-up",
        &today,
        "--note",
        "MARKER-本人の事情",
        "--target",
        "ひきこもり",
    ]);
    let visit = visit.trim();
    ibasho.ok(&[
        "visit", "add", "--kind", "phone", "--lat", "35.49", "--lon", "139.40",
    ]);
    let due = ibasho.json(&["visit", "list", "--json", "--due"]);
    assert_eq!(due.as_array().unwrap().len(), 1);
    assert_eq!(due[0]["id"], visit);
    assert_eq!(due[0]["private_note"], "MARKER-本人の事情");
    assert_eq!(due[0]["worker"], "佐藤");
    ibasho.ok(&["visit", "set", visit, "follow_up_done", "true"]);
    assert_eq!(
        ibasho.json(&["visit", "list", "--json", "--due"]),
        serde_json::json!([])
    );
    let err = ibasho.fails(&[
        "--lang",
        "en",
        "visit",
        "add",
        "--kind",
        "visit",
        "--follow-up",
        "2020-01-01",
    ]);
    assert!(err.contains("follow-up date"), "{err}");

    let out = ibasho.home.path().join("docs");
    ibasho.run(&["export", "automerge", "--out", out.to_str().unwrap()]);
    for file in std::fs::read_dir(&out).unwrap() {
        let bytes = std::fs::read(file.unwrap().path()).unwrap();
        assert!(
            !bytes.windows(6).any(|w| w == b"MARKER"),
            "a private note left the replica's device-only table"
        );
    }
}

#[test]
fn exports_write_geojson_excel_csv_and_automerge_files() {
    let ibasho = Ibasho::new();
    ibasho.init("佐藤");
    ibasho.add_cafe("喫茶ランドリー");
    let dir = ibasho.home.path();
    let geo = dir.join("places.geojson");
    ibasho.ok(&["export", "geojson", "--out", geo.to_str().unwrap()]);
    let fc: Value = serde_json::from_slice(&std::fs::read(&geo).unwrap()).unwrap();
    assert_eq!(fc["type"], "FeatureCollection");
    assert_eq!(
        fc["features"][0]["geometry"]["coordinates"],
        serde_json::json!([139.4075, 35.4889])
    );
    let public: Value =
        serde_json::from_str(&ibasho.ok(&["export", "geojson", "--public"])).unwrap();
    assert_eq!(
        public["features"],
        serde_json::json!([]),
        "no consent, no public listing"
    );

    let csv = dir.join("places.csv");
    ibasho.ok(&["export", "csv", "--out", csv.to_str().unwrap()]);
    let bytes = std::fs::read(&csv).unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"));

    let docs = dir.join("docs");
    ibasho.ok(&["export", "automerge", "--out", docs.to_str().unwrap()]);
    let names: Vec<String> = std::fs::read_dir(&docs)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        names.contains(&"workspace.automerge".to_string()),
        "{names:?}"
    );
    assert!(names.iter().any(|n| n.starts_with("places__")), "{names:?}");
}

fn write_sjis(path: &Path, text: &str) {
    let (bytes, _, _) = encoding_rs::SHIFT_JIS.encode(text);
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn shift_jis_import_reports_bad_rows_by_line_and_imports_all_or_nothing() {
    let ibasho = Ibasho::new();
    ibasho.init("佐藤");
    let file = ibasho.home.path().join("places_sjis.csv");
    write_sjis(
        &file,
        "名称,カテゴリ,緯度,経度\r\nざま子ども食堂,子ども食堂,35.488,139.407\r\n謎の店,パチンコ,35.49,139.40\r\n北の図書館,図書館,95,139\r\n",
    );
    let err = ibasho.fails(&["import", "csv", file.to_str().unwrap()]);
    assert!(err.contains("3 行目: カテゴリ"), "{err}");
    assert!(err.contains("4 行目: 緯度"), "{err}");
    assert_eq!(
        ibasho.json(&["place", "list", "--json"]),
        serde_json::json!([])
    );
    let out = ibasho.ok(&[
        "--lang",
        "en",
        "import",
        "csv",
        "--skip-invalid",
        file.to_str().unwrap(),
    ]);
    assert!(
        out.contains("read 3 rows (Shift_JIS): 1 added, 0 updated, 0 unchanged, 2 refused"),
        "{out}"
    );
    assert_eq!(
        ibasho.json(&["place", "list", "--json"])[0]["name"],
        "ざま子ども食堂"
    );
}

#[test]
fn two_devices_exchanging_files_see_and_resolve_the_same_conflict() {
    let sato = Ibasho::new();
    sato.init("佐藤");
    let id = sato.add_cafe("カフェ");
    let carry = |from: &Ibasho, to: &Ibasho| {
        let stick = tempfile::tempdir().unwrap();
        from.ok(&[
            "export",
            "automerge",
            "--out",
            stick.path().to_str().unwrap(),
        ]);
        to.ok(&[
            "import",
            "automerge",
            stick.path().to_str().unwrap(),
            "--person",
            "鈴木",
        ]);
    };
    let suzuki = Ibasho::new();
    carry(&sato, &suzuki);
    sato.ok(&["place", "set", &id, "name", "カフェ・ひだまり"]);
    suzuki.ok(&["place", "set", &id, "name", "ひだまりカフェ"]);
    carry(&sato, &suzuki);
    carry(&suzuki, &sato);

    let a = sato.json(&["conflicts", "--json"]);
    assert_eq!(a, suzuki.json(&["conflicts", "--json"]));
    assert_eq!(a[0]["field"], "name");
    let values = a[0]["values"].as_array().unwrap();
    let choice = values.iter().position(|v| v["by"] == "鈴木").unwrap() + 1;
    let err = sato.fails(&["conflicts", "resolve", &id, "name", "9"]);
    assert!(err.contains('9'), "{err}");
    sato.ok(&["conflicts", "resolve", &id, "name", &choice.to_string()]);
    assert_eq!(sato.json(&["conflicts", "--json"]), serde_json::json!([]));
    carry(&sato, &suzuki);
    assert_eq!(suzuki.json(&["conflicts", "--json"]), serde_json::json!([]));
    assert_eq!(
        suzuki.json(&["place", "show", &id, "--json"])["name"],
        "ひだまりカフェ"
    );
}

/// A file on the stick whose changes the server would refuse (here an opening-hours value the
/// grammar does not accept, written with Automerge directly) is refused with the file, the record's
/// field and the reason, and so are files cut short or not named after a document; the other files
/// are still read, and the replica keeps what it had.
#[test]
fn importing_files_refuses_changes_the_server_would_refuse_and_reads_the_rest() {
    use automerge::transaction::Transactable;
    use automerge::{ROOT, ReadDoc};
    let sato = Ibasho::new();
    sato.init("佐藤");
    let id = sato.add_cafe("カフェ");
    let stick = tempfile::tempdir().unwrap();
    sato.ok(&[
        "export",
        "automerge",
        "--out",
        stick.path().to_str().unwrap(),
    ]);
    let suzuki = Ibasho::new();
    suzuki.ok(&[
        "import",
        "automerge",
        stick.path().to_str().unwrap(),
        "--person",
        "鈴木",
    ]);

    sato.ok(&["place", "set", &id, "description", "週末は子ども食堂"]);
    sato.ok(&[
        "export",
        "automerge",
        "--out",
        stick.path().to_str().unwrap(),
    ]);
    let shard = std::fs::read_dir(stick.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("places__")
        })
        .unwrap();
    let mut doc = automerge::AutoCommit::load(&std::fs::read(&shard).unwrap()).unwrap();
    let places = doc.get(ROOT, "places").unwrap().unwrap().1;
    let rec = doc.get(&places, id.as_str()).unwrap().unwrap().1;
    doc.put(&rec, "hours", "毎日いつでも").unwrap();
    doc.commit();
    std::fs::write(&shard, doc.save()).unwrap();
    // Two more files that cannot be read: one cut short by an interrupted copy, one whose name
    // is no document's.
    let workspace = std::fs::read(stick.path().join("workspace.automerge")).unwrap();
    std::fs::write(
        stick.path().join("orgs.automerge"),
        &workspace[..workspace.len() / 2],
    )
    .unwrap();
    std::fs::write(stick.path().join("notes.automerge"), &workspace).unwrap();
    let files = std::fs::read_dir(stick.path()).unwrap().count();

    let err = suzuki.fails(&["import", "automerge", stick.path().to_str().unwrap()]);
    assert!(
        err.contains(shard.file_name().unwrap().to_str().unwrap()),
        "{err}"
    );
    assert!(
        err.contains("開所時間") && err.contains("何も取り込んでいません"),
        "{err}"
    );
    assert!(err.contains("orgs.automerge: 文書を扱えません"), "{err}");
    assert!(
        err.contains("notes.automerge: 文書の名前ではありません"),
        "{err}"
    );
    assert!(err.contains("3 文書は取り込めませんでした"), "{err}");
    let place = suzuki.json(&["place", "show", &id, "--json"]);
    assert_eq!(place["hours"], "Mo-Sa 09:00-18:00; PH off");
    assert_eq!(
        place["description"], "",
        "nothing of the refused file was taken in"
    );

    let err = suzuki.fails(&[
        "--lang",
        "en",
        "import",
        "automerge",
        stick.path().to_str().unwrap(),
    ]);
    let refused = format!("3 of {files} documents were refused");
    assert!(
        err.contains("opening hours") && err.contains(&refused),
        "{err}"
    );

    // Once the files are good again, they are read.
    std::fs::remove_file(stick.path().join("orgs.automerge")).unwrap();
    std::fs::remove_file(stick.path().join("notes.automerge")).unwrap();
    sato.ok(&[
        "export",
        "automerge",
        "--out",
        stick.path().to_str().unwrap(),
    ]);
    suzuki.ok(&["import", "automerge", stick.path().to_str().unwrap()]);
    let place = suzuki.json(&["place", "show", &id, "--json"]);
    assert_eq!(place["description"], "週末は子ども食堂");
}

/// Text is text: a name with an ANSI escape or a bidi override is refused, naming the field and
/// the character, and the refusal itself writes no raw control character to the terminal.
#[test]
fn control_characters_are_refused_and_never_reach_the_terminal() {
    let ibasho = Ibasho::new();
    ibasho.init("佐藤");
    for name in [
        "\u{1b}[2J\u{1b}[31m喫茶",
        "喫茶\u{202e}ーリドンラ",
        "喫茶\nランドリー",
    ] {
        let err = ibasho.fails(&[
            "place",
            "add",
            "--name",
            name,
            "--category",
            "cafe",
            "--lat",
            "35.48",
            "--lon",
            "139.40",
        ]);
        assert!(err.contains("名称") && err.contains("制御文字"), "{err}");
        assert!(
            !err.chars().any(|c| c == '\u{1b}' || c == '\u{202e}'),
            "{err:?}"
        );
    }
    let list = ibasho.json(&["place", "list", "--json"]);
    assert_eq!(list.as_array().unwrap().len(), 0, "nothing was added");
    // A long text keeps its line breaks.
    let id = ibasho.ok(&[
        "place",
        "add",
        "--name",
        "喫茶ランドリー",
        "--category",
        "cafe",
        "--lat",
        "35.48",
        "--lon",
        "139.40",
        "--description",
        "月曜は休み\n火曜から営業",
    ]);
    let shown = ibasho.json(&["place", "show", id.trim(), "--json"]);
    assert_eq!(shown["description"], "月曜は休み\n火曜から営業");
}

/// `ibasho place list | head -1`: the reader goes away after one line; the program ends without a
/// panic.
#[test]
fn a_closed_pipe_ends_the_listing_quietly() {
    use std::io::Read;
    use std::process::Stdio;
    let ibasho = Ibasho::new();
    ibasho.ok(&["demo", "--places", "2000"]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_ibasho"))
        .arg("--home")
        .arg(ibasho.home.path())
        .args(["place", "list"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 64];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut first)
        .unwrap();
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(status.success(), "{status:?}: {stderr}");
}

/// Every time shown to a person is Japan time in one format (`2026-12-06 10:16`); JSON keeps
/// RFC 3339 with its offset.
#[test]
fn times_are_shown_in_japan_time_and_json_keeps_rfc_3339() {
    let ibasho = Ibasho::new();
    ibasho.init("佐藤");
    let id = ibasho
        .ok(&[
            "place",
            "add",
            "--name",
            "喫茶ランドリー",
            "--category",
            "cafe",
            "--lat",
            "35.48",
            "--lon",
            "139.40",
        ])
        .trim()
        .to_string();
    let history = ibasho.json(&["place", "history", &id, "--json"]);
    let at = history[0]["at"].as_str().unwrap().to_string();
    let moment = chrono::DateTime::parse_from_rfc3339(&at).expect("RFC 3339 with an offset");
    let japan = (moment.with_timezone(&chrono::Utc) + chrono::Duration::hours(9))
        .format("%Y-%m-%d %H:%M")
        .to_string();
    let text = ibasho.ok(&["place", "history", &id]);
    assert!(text.starts_with(&japan), "{text} (expected {japan})");
    assert!(!text.contains(&at), "{text}");
}

/// History shows what changed: each field with its old and new value, who, when (Japan time) and
/// from which device.
#[test]
fn history_shows_each_field_with_its_old_and_new_value() {
    let ibasho = Ibasho::new();
    ibasho.init("佐藤");
    let id = ibasho
        .ok(&[
            "place",
            "add",
            "--name",
            "喫茶ランドリー",
            "--category",
            "cafe",
            "--lat",
            "35.48",
            "--lon",
            "139.40",
            "--hours",
            "Mo-Fr 10:00-16:00",
        ])
        .trim()
        .to_string();
    ibasho.ok(&["place", "set", &id, "hours", "Tu-Su 10:00-17:00"]);
    let history = ibasho.json(&["place", "history", &id, "--json"]);
    let change = &history[1]["changes"][0];
    assert_eq!(change["field"], "hours");
    assert_eq!(change["old"], "Mo-Fr 10:00-16:00");
    assert_eq!(change["new"], "Tu-Su 10:00-17:00");
    let text = ibasho.ok(&["place", "history", &id]);
    assert!(
        text.contains("Mo-Fr 10:00-16:00 → Tu-Su 10:00-17:00"),
        "{text}"
    );
    assert!(text.contains("佐藤"), "{text}");
    assert!(text.contains("新規作成"), "{text}");
}

/// In Japanese nothing English reaches a person: an unknown category suggests Japanese labels (not
/// English ids), and bad opening hours say where reading stopped without the parser's `-->` noise.
#[test]
fn refusals_suggest_labels_in_the_persons_language_without_parser_noise() {
    let ibasho = Ibasho::new();
    ibasho.init("佐藤");
    let add = |category: &str, hours: &str| {
        ibasho.fails(&[
            "place",
            "add",
            "--name",
            "テスト",
            "--category",
            category,
            "--lat",
            "35.48",
            "--lon",
            "139.40",
            "--hours",
            hours,
        ])
    };
    let err = add("パチンコ", "");
    assert!(
        err.contains("「パチンコ」は選べる値ではありません"),
        "{err}"
    );
    assert!(err.contains("居場所"), "{err}");
    assert!(
        !err.contains("ibasho,") && !err.contains("kodomo_shokudo"),
        "{err}"
    );
    let err = add("カフェ", "毎日いつでも");
    assert!(err.contains("開所時間"), "{err}");
    assert!(err.contains("毎日いつでも"), "where reading stopped: {err}");
    assert!(!err.contains("-->"), "{err}");
}
