//! Exports (GeoJSON, CSV for Excel, raw Automerge) and CSV import in UTF-8 or Shift_JIS.

mod support;

use ibasho_shared::Place;
use ibasho_shared::{DocId, Error, Lang, PlaceQuery, exchange};
use support::*;

#[test]
fn geojson_follows_rfc_7946_and_public_export_needs_consent() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = founder(dir.path(), "佐藤");
    let listed = r
        .add_place(ibasho_shared::Place {
            listing_consent: true,
            ..cafe("公開カフェ")
        })
        .unwrap();
    r.add_place(ibasho_shared::Place {
        targets: vec!["hikikomori".into()],
        ..cafe("非公開の居場所")
    })
    .unwrap();

    let all: Vec<_> = r
        .places(&PlaceQuery::default())
        .unwrap()
        .into_iter()
        .map(|h| h.place)
        .collect();
    let text = serde_json::to_string(&exchange::places_geojson(&all, Lang::Ja)).unwrap();
    let parsed: geojson::GeoJson = text.parse().unwrap();
    let geojson::GeoJson::FeatureCollection(fc) = parsed else {
        panic!("not a FeatureCollection")
    };
    assert_eq!(fc.features.len(), 2);
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let first = &value["features"][0];
    assert_eq!(first["geometry"]["type"], "Point");
    assert_eq!(
        first["geometry"]["coordinates"],
        serde_json::json!([139.4075, 35.4889]),
        "longitude first"
    );
    assert_eq!(first["properties"]["category_label"], "喫茶店・カフェ");

    let public: Vec<_> = r
        .places(&PlaceQuery {
            public_only: true,
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .map(|h| h.place)
        .collect();
    let fc = exchange::places_geojson(&public, Lang::En);
    assert_eq!(fc.features.len(), 1);
    assert_eq!(
        fc.features[0].id,
        Some(geojson::feature::Id::String(listed.id))
    );
}

#[test]
fn csv_export_opens_in_excel_and_imports_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = founder(dir.path(), "佐藤");
    let mut p = cafe("カフェ, \"ひだまり\"");
    p.targets = vec!["elderly".into(), "foreign".into()];
    p.description = "二行の\n説明".into();
    r.add_place(p).unwrap();
    let places: Vec<_> = r
        .places(&PlaceQuery::default())
        .unwrap()
        .into_iter()
        .map(|h| h.place)
        .collect();
    let bytes = exchange::places_csv(&places, Lang::Ja).unwrap();
    assert!(
        bytes.starts_with(b"\xEF\xBB\xBF"),
        "UTF-8 byte-order mark for Excel"
    );
    assert!(String::from_utf8_lossy(&bytes).contains("\r\n"));
    assert!(String::from_utf8_lossy(&bytes).contains("名称"));

    let mut other = founder(&dir.path().join("b"), "鈴木");
    let report = other.import_places_csv(&bytes, false).unwrap();
    assert_eq!(report.imported, 1);
    let back = &other.places(&PlaceQuery::default()).unwrap()[0].place;
    assert_eq!(back.name, places[0].name);
    assert_eq!(back.targets, places[0].targets);
    assert_eq!(back.description, places[0].description);
    assert_eq!((back.lat, back.lon), (places[0].lat, places[0].lon));
}

/// CSV injection: a place named like a formula (anyone may name a place) is written so that Excel
/// shows the text instead of running it, and imports back as it was named.
#[test]
fn cells_a_spreadsheet_would_run_are_written_as_text_and_import_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = founder(dir.path(), "佐藤");
    let payloads = [
        "=1+1",
        "+SUM(1,1)",
        "-2+3",
        "@cmd",
        "=cmd|' /C calc'!A0",
        "=HYPERLINK(\"http://example.com\",\"詳細\")",
    ];
    for name in payloads {
        let mut p = cafe(name);
        p.contact = "+81-46-000-0000".into();
        r.add_place(p).unwrap();
    }
    let places: Vec<_> = r
        .places(&PlaceQuery::default())
        .unwrap()
        .into_iter()
        .map(|h| h.place)
        .collect();
    let bytes = exchange::places_csv(&places, Lang::Ja).unwrap();
    let mut reader = csv::Reader::from_reader(&bytes[3..]);
    let mut names = Vec::new();
    for row in reader.records() {
        let row = row.unwrap();
        let (name, contact) = (&row[1], &row[10]);
        assert!(name.starts_with('\''), "{name:?} is written as text");
        assert_eq!(contact, "'+81-46-000-0000");
        names.push(name[1..].to_string());
    }
    names.sort();
    let mut expected: Vec<String> = payloads.iter().map(|p| p.to_string()).collect();
    expected.sort();
    assert_eq!(names, expected);

    let mut other = founder(&dir.path().join("b"), "鈴木");
    other.import_places_csv(&bytes, false).unwrap();
    let mut back: Vec<(String, String)> = other
        .places(&PlaceQuery::default())
        .unwrap()
        .into_iter()
        .map(|h| (h.place.name, h.place.contact))
        .collect();
    back.sort();
    assert_eq!(back.len(), payloads.len());
    for (name, contact) in back {
        assert!(expected.contains(&name), "{name:?}");
        assert_eq!(contact, "+81-46-000-0000");
    }
}

const SJIS_CSV: &str = "名称,カテゴリ,対象,緯度,経度,住所,開所時間\r\n\
ざま子ども食堂,こども食堂,子ども・若者、生活困窮,35.4880,139.4070,\"座間市緑ケ丘1-2\r\n（2階）\",Sa 11:00-14:00\r\n\
ぬるぽ食堂,子ども食堂,,0,0,座間市,\r\n\
喫茶ランドリー相武台,喫茶ランドリー,高齢者,35.4889,139.4075,座間市相武台,Mo-Sa 09:00-18:00; PH off\r\n\
謎の店,パチンコ,,35.49,139.40,,\r\n\
時間の読めない店,カフェ,,35.49,139.40,,毎日いつでも\r\n";

#[test]
fn shift_jis_import_reports_every_bad_row_and_imports_nothing_unless_told() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = founder(dir.path(), "佐藤");
    let (sjis, _, unmappable) = encoding_rs::SHIFT_JIS.encode(SJIS_CSV);
    assert!(!unmappable);
    assert!(
        std::str::from_utf8(&sjis).is_err(),
        "really Shift_JIS bytes"
    );
    let heads = all_heads(&mut r);

    let Err(Error::Import(report)) = r.import_places_csv(&sjis, false) else {
        panic!("bad rows must refuse the import")
    };
    assert_eq!(report.encoding, "Shift_JIS");
    assert_eq!(report.rows, 5);
    assert_eq!(report.imported, 0);
    let lines: Vec<(u64, &str)> = report
        .errors
        .iter()
        .map(|e| (e.line, e.field.as_str()))
        .collect();
    assert_eq!(lines, vec![(4, "location"), (6, "category"), (7, "hours")]);
    assert!(report.message(Lang::Ja).contains("4 行目"));
    assert!(report.message(Lang::En).contains("line 6: category"));
    assert_eq!(all_heads(&mut r), heads, "nothing imported");
    assert_eq!(r.place_count().unwrap(), 0);

    let report = r.import_places_csv(&sjis, true).unwrap();
    assert_eq!(report.imported, 2);
    let found = r
        .places(&PlaceQuery {
            search: Some("子ども食堂".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(found[0].place.targets, vec!["poverty", "children_youth"]);
    assert_eq!(
        found[0].place.address, "座間市緑ケ丘1-2 （2階）",
        "one line"
    );
}

#[test]
fn a_file_without_required_columns_or_in_an_unknown_encoding_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = founder(dir.path(), "佐藤");
    let Err(Error::Import(report)) =
        r.import_places_csv("名称,住所\nカフェ,座間市\n".as_bytes(), true)
    else {
        panic!()
    };
    let missing: Vec<_> = report.errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(missing, vec!["category", "lat", "lon"]);
    let Err(Error::Import(report)) = r.import_places_csv(&[0xff, 0xfe, 0x00, 0x81, 0x00], true)
    else {
        panic!()
    };
    assert_eq!(report.errors[0].field, "file");
    assert_eq!(r.place_count().unwrap(), 0);
}

#[test]
fn raw_automerge_export_loads_in_a_fresh_automerge() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = founder(dir.path(), "佐藤");
    let p = r.add_place(cafe("喫茶ランドリー")).unwrap();
    let shard = DocId::for_place(&p.id);
    let bytes = r.doc_bytes(&shard).unwrap();
    let doc = automerge::Automerge::load(&bytes).unwrap();
    let json = serde_json::to_value(automerge::AutoSerde::from(&doc)).unwrap();
    assert_eq!(json["places"][&p.id]["name"], "喫茶ランドリー");
    assert_eq!(json["places"][&p.id]["lat"], 35.4889);
}

/// Export → edit in Excel → import: rows whose id is here update their place with only what was
/// edited in the file (an edit made elsewhere meanwhile survives), the rest are added, and the
/// summary counts added, updated, unchanged and refused. Imported again as it is, nothing is
/// duplicated.
#[test]
fn an_exported_file_edited_and_imported_again_updates_only_what_was_edited() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = founder(dir.path(), "佐藤");
    for name in ["喫茶ランドリー", "ひだまりカフェ", "ざま子ども食堂"] {
        r.add_place(cafe(name)).unwrap();
    }
    let places: Vec<_> = r
        .places(&PlaceQuery::default())
        .unwrap()
        .into_iter()
        .map(|h| h.place)
        .collect();
    let bytes = r.export_places_csv(&places, Lang::Ja).unwrap();
    let report = r.import_places_csv(&bytes, false).unwrap();
    assert_eq!((report.added, report.updated, report.unchanged), (0, 0, 3));
    assert_eq!(r.place_count().unwrap(), 3);

    // Another device's edit arrives after the export.
    let laundry = places
        .iter()
        .find(|p| p.name == "喫茶ランドリー")
        .unwrap()
        .id
        .clone();
    r.set::<Place>(&laundry, "description", "他の端末で書いた説明")
        .unwrap();
    // In Excel: the laundry café's contact is filled in, and a new row is added.
    let mut reader = csv::Reader::from_reader(&bytes[3..]);
    let headers = reader.headers().unwrap().clone();
    let contact = headers.iter().position(|h| h == "連絡先").unwrap();
    let mut out = b"\xEF\xBB\xBF".to_vec();
    {
        let mut w = csv::Writer::from_writer(&mut out);
        w.write_record(&headers).unwrap();
        for row in reader.records() {
            let mut row: Vec<String> = row.unwrap().iter().map(String::from).collect();
            if row[0] == laundry {
                row[contact] = "046-123-4567".into();
            }
            w.write_record(&row).unwrap();
        }
        let mut new_row = vec![String::new(); headers.len()];
        new_row[1] = "新しい居場所".into();
        new_row[3] = "カフェ".into();
        new_row[5] = "35.49".into();
        new_row[6] = "139.41".into();
        w.write_record(&new_row).unwrap();
        w.flush().unwrap();
    }
    let report = r.import_places_csv(&out, false).unwrap();
    assert_eq!(
        (report.added, report.updated, report.unchanged),
        (1, 1, 2),
        "{}",
        report.message(Lang::Ja)
    );
    assert!(
        report
            .message(Lang::Ja)
            .contains("追加 1、更新 1、変更なし 2")
    );
    let updated = r.get::<Place>(&laundry).unwrap();
    assert_eq!(updated.contact, "046-123-4567");
    assert_eq!(
        updated.description, "他の端末で書いた説明",
        "the edit made elsewhere survives"
    );
    assert_eq!(r.place_count().unwrap(), 4);
}

/// Every error of a refused row is named, not only the first.
#[test]
fn every_error_of_a_row_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = founder(dir.path(), "佐藤");
    let csv = "名称,カテゴリ,緯度,経度,開所時間\n謎の店,パチンコ,北緯,139.40,毎日いつでも\n";
    let Err(ibasho_shared::Error::Import(report)) = r.import_places_csv(csv.as_bytes(), false)
    else {
        panic!("refused")
    };
    let fields: Vec<&str> = report.errors.iter().map(|e| e.field.as_str()).collect();
    assert!(fields.contains(&"lat"), "{fields:?}");
    assert!(fields.contains(&"hours"), "{fields:?}");
    assert!(report.errors.iter().all(|e| e.line == 2));
}
