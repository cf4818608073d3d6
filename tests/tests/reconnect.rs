//! A reconnect after a few small offline edits moves kilobytes, not the workspace.

use ibasho_tests::Server;

#[test]
fn ten_offline_edits_to_a_thousand_places_sync_in_a_few_kilobytes() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("server"));
    let ws = server.admin(&["workspace", "create", "--name", "富山県PF"]);
    let team = server.team(&ws, "相談支援");
    let coordinator = server.join(&ws, "coordinator", None, "佐藤");
    let mut csv = String::from("name,category,lat,lon,address,description\n");
    for i in 0..1000 {
        csv.push_str(&format!(
            "富山の居場所{i},ibasho,{},{},富山市{i}番地,毎週の集まり{i}\n",
            36.60 + (i % 50) as f64 * 0.002,
            137.20 + (i / 50) as f64 * 0.002
        ));
    }
    let file = dir.path().join("places.csv");
    std::fs::write(&file, csv).unwrap();
    coordinator.ok(&["import", "csv", file.to_str().unwrap()]);
    coordinator.sync();

    let before = server.wire_bytes();
    let worker = server.join(&ws, "worker", Some(&team), "鈴木");
    let cold = server.wire_bytes() - before;
    let places = worker.json(&["place", "list", "--json"]);
    assert_eq!(places.as_array().unwrap().len(), 1000);

    for (i, place) in places.as_array().unwrap().iter().take(10).enumerate() {
        worker.ok(&[
            "place",
            "set",
            place["id"].as_str().unwrap(),
            "description",
            &format!("確認済み {i}"),
        ]);
    }
    assert_eq!(worker.json(&["status", "--json"])["unsent_changes"], 10);
    let before = server.wire_bytes();
    worker.sync();
    let reconnect = server.wire_bytes() - before;
    eprintln!(
        "cold sync of 1,000 places: {cold} bytes; reconnect after 10 edits: {reconnect} bytes"
    );
    assert!(reconnect < 12 * 1024, "reconnect moved {reconnect} bytes");
    assert!(
        reconnect * 5 < cold,
        "reconnect {reconnect} bytes vs cold {cold} bytes"
    );
    coordinator.sync();
    let edited = coordinator.json(&["place", "list", "--json", "--search", "確認済み"]);
    assert_eq!(edited.as_array().unwrap().len(), 10);
}
