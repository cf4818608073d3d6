//! Every word the app shows — the window, the command line and the sync client — in Japanese and
//! English. Each constant is named for what it says.

use ibasho_shared::i18n::{Text, t};

pub const APP_NAME: Text = t("いばしょ", "ibasho");
pub const TAB_MAP: Text = t("地図", "Map");
pub const TAB_LIST: Text = t("一覧", "List");
pub const TAB_VISITS: Text = t("訪問", "Visits");
pub const TAB_DIRECTORY: Text = t("団体", "Directory");
pub const TAB_SETTINGS: Text = t("設定", "Settings");
pub const ZOOM_IN: Text = t("拡大", "Zoom in");
pub const ZOOM_OUT: Text = t("縮小", "Zoom out");
pub const CENTER: Text = t("全体を表示", "Show the workspace");
pub const LEGEND: Text = t("凡例", "Legend");
pub const LEGEND_IBASHO: Text = t("居場所", "Drop-in places");
pub const LEGEND_SHOKUDO: Text = t("子ども食堂・食堂", "Community dining");
pub const LEGEND_SHOPS: Text = t("カフェ・お店", "Cafés and shops");
pub const LEGEND_COMMUNITY: Text = t(
    "地域の場・公園・図書館",
    "Community halls, parks, libraries",
);
pub const LEGEND_CHILDREN: Text = t("子育て・学び", "Children and learning");
pub const LEGEND_CULTURE: Text = t("スポーツ・文化", "Sports and arts");
pub const LEGEND_CONSULTATION: Text = t("相談窓口", "Consultation");
pub const LEGEND_OTHER: Text = t("その他", "Other");
pub const LEGEND_STALE: Text = t("開所時間の再確認が必要", "Hours to re-check");
pub const LEGEND_CONFLICT: Text = t("同時編集あり（要確認）", "Edited on two devices at once");
pub const CLOSE: Text = t("閉じる", "Close");
pub const SAVE_AREA: Text = t(
    "この範囲をオフライン用に保存",
    "Save this area for offline use",
);
pub const AREA_PLANNING: Text = t(
    "タイルの数と大きさを調べています…",
    "Working out the tiles and their size…",
);
pub const AREA_ESTIMATE_EXACT: Text = t(
    "ズーム {min}〜{max}: {fetch} 枚（{bytes}）を取得します（保存済み {have} 枚）。",
    "Zooms {min} to {max}: {fetch} tiles ({bytes}) to fetch ({have} already saved).",
);
pub const AREA_ESTIMATE_ABOUT: Text = t(
    "ズーム {min}〜{max}: {fetch} 枚（約 {bytes}）を取得します（保存済み {have} 枚）。",
    "Zooms {min} to {max}: {fetch} tiles (about {bytes}) to fetch ({have} already saved).",
);
pub const AREA_START: Text = t("保存を開始", "Start saving");
pub const AREA_STOP: Text = t("中止（取得済みは残ります）", "Stop (what is fetched stays)");
pub const AREA_PROGRESS: Text = t(
    "{done}/{of} 枚（{pct}%）{bytes}",
    "{done}/{of} tiles ({pct}%) {bytes}",
);
pub const AREA_DONE: Text = t(
    "{n} 枚（{bytes}）を保存しました。電波がなくてもこの範囲の地図が表示されます。",
    "Saved {n} tiles ({bytes}). The map of this area now shows without a connection.",
);
pub const OFFLINE_AREAS: Text = t(
    "オフライン用に保存した地図",
    "Map areas saved for offline use",
);
pub const BASEMAP: Text = t("背景地図", "Basemap");
pub const BASEMAP_DEFAULT: Text = t(
    "既定（ワークスペースの設定、なければ標準地図）",
    "Default (the workspace's, else the standard map)",
);
pub const BASEMAP_STD: Text = t("地理院タイル 標準地図", "GSI standard map");
pub const BASEMAP_PALE: Text = t("地理院タイル 淡色地図", "GSI pale map");
pub const BASEMAP_ATTRIBUTION: Text = t(
    "出典表示（独自URLのとき）",
    "Attribution (for your own URL)",
);
pub const DETAILS: Text = t("詳細", "Details");
pub const MAP_HINT: Text = t(
    "地図をクリックすると、そこに場所を追加できます",
    "Click the map to add a place there",
);
pub const SEARCH: Text = t(
    "検索（名称・住所・説明）",
    "Search (name, address, description)",
);
pub const ALL_CATEGORIES: Text = t("すべてのカテゴリ", "All categories");
pub const ALL_TARGETS: Text = t("すべての対象", "All target groups");
pub const ALL_STATUSES: Text = t("すべての状態", "All statuses");
pub const OPEN_NOW: Text = t("開いている場所だけ", "Open now only");
pub const OPEN: Text = t("営業中", "Open now");
pub const CLOSED: Text = t("時間外", "Closed now");
pub const OPENS_AT: Text = t("次の変更", "Changes at");
pub const NEW_PLACE: Text = t("新しい場所", "New place");
pub const EDIT_PLACE: Text = t("場所の編集", "Edit place");
pub const SAVE: Text = t("保存", "Save");
pub const CANCEL: Text = t("キャンセル", "Cancel");
pub const DELETE: Text = t("削除", "Delete");
pub const RESTORE: Text = t("元に戻す", "Restore");
pub const SAVED: Text = t("保存しました", "Saved");
pub const HISTORY: Text = t("変更履歴", "History");
/// Next to a field another device changed while this one edits it.
pub const CHANGED_ELSEWHERE: Text = t(
    "他の端末で変更されました（保存するとこの入力が残ります）",
    "changed on another device (saving keeps what you typed)",
);
/// After a name the server does not vouch for (what a change's note claims).
pub const UNVERIFIED: Text = t("（未確認）", " (unverified)");
pub const CONFLICTS: Text = t("同時に編集された項目", "Edited on two devices at once");
pub const CHOOSE: Text = t("これにする", "Keep this");
pub const LOG_VISIT: Text = t("訪問を記録", "Log a visit");
pub const FOLLOW_UPS_DUE: Text = t("期日の来たフォローアップ", "Follow-ups due");
pub const TEAM_LOG: Text = t("チームの記録", "Team log");
pub const NO_VISITS: Text = t("記録はありません", "No visits");
pub const PRIVATE_NOTE_HINT: Text = t("この端末だけに保存されます", "Stays on this device only");
pub const MARK_DONE: Text = t("完了にする", "Mark done");
pub const DIRECTORY: Text = t("参画団体", "Member organizations");
pub const OFFLINE: Text = t("オフライン（この端末のみ）", "Offline (this device only)");
pub const CONNECTING: Text = t("接続中…", "Connecting…");
pub const SYNCING: Text = t("同期中…", "Syncing…");
pub const SYNCED_AT: Text = t("同期済み", "Synced at");
pub const UNSENT: Text = t("未送信", "unsent");
pub const RETRY: Text = t("再試行", "Retry");
pub const SYNC_FAILED: Text = t("同期できませんでした", "Could not sync");
/// The calm bar of a device out of reach of the server.
pub const OFFLINE_WAITING: Text = t(
    "オフライン・電波が戻ったら送ります",
    "Offline · sends when the signal is back",
);
pub const LAST_SYNC: Text = t("最終同期", "last sync");
pub const CONNECTION_LOST: Text = t(
    "サーバーとの接続が切れました（自動でつなぎ直します）",
    "the connection to the server was lost (it reconnects by itself)",
);
pub const REVOKED: Text = t(
    "この端末は利用停止されています。コーディネーターに連絡してください",
    "this device was revoked; contact your coordinator",
);
pub const JOIN: Text = t("ワークスペースに参加", "Join a workspace");
pub const SERVER_URL: Text = t("サーバーのURL", "Server URL");
pub const INVITE: Text = t("招待コード", "Invite code");
pub const DISPLAY_NAME: Text = t("表示名", "Display name");
pub const LANGUAGE: Text = t("言語", "Language");
pub const TILE_URL: Text = t(
    "地図タイルのURL（オンライン時）",
    "Map tile URL (when online)",
);
pub const TRY_DEMO: Text = t("デモを試す", "Try the demo");
pub const WELCOME: Text = t(
    "いばしょへようこそ。ワークスペースに参加するか、デモを試してください。",
    "Welcome to ibasho. Join a workspace, or try the demo.",
);
pub const DISTANCE: Text = t("中心からの距離", "Distance from the map centre");
pub const PLACES_COUNT: Text = t("件", "places");
pub const KIND: Text = t("接触の種類", "Contact type");
pub const PEOPLE: Text = t("人数", "People reached");
pub const FOLLOW_UP: Text = t("フォローアップ期日", "Follow-up date");
pub const REFER_TO: Text = t("つなぎ先", "Refer to");
pub const NONE: Text = t("なし", "None");
pub const NOTE: Text = t("個人メモ", "Private note");
pub const ROLE: Text = t("役割", "Role");
pub const DELETED: Text = t("削除済み", "Deleted");
pub const TILE_URL_SCHEME: Text = t(
    "タイルURLは http:// か https:// で始め、{z}・{x}・{y} を含めてください",
    "the tile URL must start with http:// or https:// and hold {z}, {x} and {y}",
);
pub const TILES_TOO_LARGE: Text = t(
    "この範囲は {tiles} 枚のタイルになります（1回の上限は {max} 枚）。範囲を狭めるか、ズームを減らしてください。",
    "The area has {tiles} tiles; at most {max} per download: choose a smaller area or fewer zooms.",
);
pub const TILES_INTERRUPTED: Text = t(
    "{of} 枚中 {done} 枚で中断しました（{why}）。同じダウンロードをもう一度実行すると続きから再開します。",
    "Stopped after {done} of {of} tiles ({why}); run the same download again to resume.",
);
pub const TILES_PLAN_EXACT: Text = t(
    "範囲のタイル {tiles} 枚: 取得 {fetch} 枚（{bytes}）、取得済み {have} 枚、配信なし {absent} 枚 — {url}",
    "{tiles} tiles in the area: {fetch} to fetch ({bytes}), {have} already here, {absent} not at the source — {url}",
);
pub const TILES_PLAN_ABOUT: Text = t(
    "範囲のタイル {tiles} 枚: 取得 {fetch} 枚（約 {bytes}）、取得済み {have} 枚 — {url}",
    "{tiles} tiles in the area: {fetch} to fetch (about {bytes}), {have} already here — {url}",
);
pub const TILES_PROGRESS: Text = t(
    "  {done}/{of} 枚（{pct}%）{bytes}",
    "  {done}/{of} tiles ({pct}%) {bytes}",
);
pub const TILES_DONE: Text = t(
    "{fetched} 枚を保存しました（{bytes}、配信なし {absent} 枚）: {path}",
    "Stored {fetched} tiles ({bytes}; {absent} not at the source) in {path}",
);
pub const TILES_DAMAGED: Text = t(
    "{n} 枚のタイルが目録と一致しなかったため保存していません。後でもう一度実行してください。",
    "{n} tiles did not match the source's list and were not kept; run the download again later.",
);
pub const TILES_NONE: Text = t(
    "オフライン地図の範囲はまだありません（ibasho tiles download）",
    "No offline map areas yet (ibasho tiles download)",
);
pub const TILES_UNIT: Text = t("枚", "tiles");
pub const TILES_COMPLETE: Text = t("完了", "complete");
pub const TILES_PARTIAL: Text = t("未完了（再実行で再開）", "unfinished (run again to resume)");
pub const TILES_DELETED: Text = t(
    "範囲 {id} を削除しました（タイル {n} 枚）",
    "Deleted area {id} ({n} tiles)",
);
pub const TILES_NO_AREA: Text = t(
    "範囲 {id} はありません（ibasho tiles list）",
    "No area {id} (see ibasho tiles list)",
);
pub const NOT_A_MONTH: Text = t(
    "{flag}: 「{text}」は年月（YYYY-MM）ではありません",
    "{flag}: \"{text}\" is not a month (YYYY-MM)",
);
pub const TO_BEFORE_FROM: Text = t(
    "--to: {to} は --from {from} より前です",
    "--to: {to} comes before --from {from}",
);
pub const TILES_STOPPED: Text = t(
    "{of} 枚中 {done} 枚で中止しました。取得済みのタイルは残っています。",
    "Stopped after {done} of {of} tiles; what was fetched is kept.",
);
pub const TILES_OTHER_SOURCE: Text = t(
    "この範囲は別の地図（{url}）で保存した範囲 {id} と重なります。1つの端末には1つの地図を保存します。先に削除してください（ibasho tiles delete {id}）。",
    "The area overlaps area {id}, saved from another map ({url}); a device keeps one map's tiles. Delete it first (ibasho tiles delete {id}).",
);
pub const TILES_LIST_TOO_LARGE: Text = t(
    "タイル目録（{bytes}）は大きいため使わず、大きさは推定です（--list で使います）。",
    "The tile list ({bytes}) is large and was not read; the size is an estimate (--list reads it).",
);
pub const TILES_LIST_UNREADABLE: Text = t(
    "タイル目録を読めなかったため、大きさは推定です（{why}）。",
    "The tile list could not be read, so the size is an estimate ({why}).",
);
pub const TILES_LISTING: Text = t(
    "タイル目録 {url} を読めませんでした: {why}",
    "Could not read the tile list {url}: {why}",
);
pub const SETTINGS_SAVED: Text = t("設定を保存しました", "Settings saved");
pub const ADDED_BY: Text = t("登録", "Added by");
pub const JOINED: Text = t("参加しました", "Joined");

/// The visit form's team (a coordinator chooses it).
pub const TEAM: Text = t("チーム", "Team");
pub const CHOOSE_TEAM: Text = t("チームを選んでください", "Choose a team");
/// The visit form's place picker.
pub const PLACE: Text = t("場所", "Place");
pub const SEARCH_NEAREST: Text = t("名前で検索（近い順）", "Search by name (nearest first)");
pub const NO_PLACE: Text = t(
    "選ばなければ場所なしで記録します（電話など）",
    "Without a place chosen, the visit has no place (a call, …)",
);
pub const CHANGE: Text = t("変更", "Change");

/// Under the coordinates of a place that looks entered by mistake.
pub const OUTSIDE_JAPAN: Text = t(
    "この位置は日本の外です。緯度・経度を確かめてください",
    "This position is outside Japan: check the latitude and longitude",
);
pub const FAR_FROM_OTHERS: Text = t(
    "ほかの場所から遠く離れています。緯度・経度を確かめてください",
    "This is far from the workspace's other places: check the latitude and longitude",
);

/// A server that cannot be reached (said where it is not the calm offline bar: the CLI).
pub const UNREACHABLE: Text = t(
    "サーバーに届きません（電波がない、またはそのアドレスにサーバーがありません）",
    "cannot reach the server (no signal, or no server at that address)",
);
pub const UNKNOWN_DEVICE: Text = t(
    "サーバーがこの端末を知りません。招待コードで参加し直してください",
    "the server does not know this device; join again with an invite",
);
pub const SERVER_REFUSED: Text = t(
    "サーバーが接続を断りました",
    "the server refused the connection",
);
pub const PROTOCOL_MISMATCH: Text = t(
    "サーバーとこのアプリの版が合いません。どちらかを更新してください",
    "the server and this app do not speak the same version; update one of them",
);
pub const REFUSED_FORBIDDEN: Text = t(
    "この端末の役割では送れない変更です",
    "a change this device's role may not send",
);
pub const REFUSED_READ_ONLY: Text = t(
    "この端末では閲覧のみの記録への変更です（端末に残ります）",
    "a change to records this device may only read (kept on this device)",
);
pub const REFUSED_TOO_MUCH: Text = t(
    "一度に送れる量を超えています。分けて送ってください",
    "more than may be sent at once; send it in parts",
);
pub const REFUSED_UNKNOWN: Text = t(
    "ワークスペースにない文書やチームへの変更です",
    "a change to a document or team the workspace does not have",
);
pub const REFUSED_INVALID: Text = t(
    "規則に合わないためサーバーが受け付けなかった変更があります",
    "the server refused a change that breaks a rule",
);
pub const WIPED: Text = t(
    "この端末は利用停止されたため、ワークスペースのデータ（記録・個人メモ・同期の鍵）を消去しました",
    "this device was revoked, so the workspace's data on it (records, private notes, its key) was deleted",
);
pub const REFUSED_CLOSED_EPOCH: Text = t(
    "消去のあと作り直された記録への古い変更です（もう一度同期すると新しい版に載せ直します）",
    "an old change to records rewritten by an erasure (sync again to make it on the new version)",
);
pub const REFUSED_PAST_RETENTION: Text = t(
    "ワークスペースの保存期間を過ぎた月の訪問記録はサーバーが受け付けません",
    "the server no longer takes visits of a month past the workspace's retention",
);
pub const REFUSED_SERVER_FAULT: Text = t(
    "サーバー側の問題で保存できませんでした（後でもう一度送ります）",
    "the server could not store it (it is sent again later)",
);

// The command line's words. `{name}` marks where [`fill`] puts a value.
pub const DISCARDED: Text = t(
    "送信されていない変更を取り消しました（項目 {fields} 件、記録 {records} 件）",
    "discarded unsent changes ({fields} fields, {records} records)",
);
pub const NO_ERASURES: Text = t("消去の記録はありません", "nothing was erased");
pub const EVERY_RECORD: Text = t("すべての記録", "every record");
pub const REPORT_VISITS: Text = t(
    "訪問 {visits} 件、{people} 人",
    "{visits} visits, {people} people reached",
);
pub const ERASED: Text = t(
    "{doc} の {what} を消去しました（第 {epoch} 版）。同期した端末から消えます",
    "erased {what} in {doc} (epoch {epoch}); it is gone from every device once it syncs",
);
pub const STUCK: Text = t(
    "送れない変更: {what} — {why}。取り消すには: {discard}",
    "stuck change: {what} — {why}; to discard it: {discard}",
);
pub const STUCK_HEADING: Text = t("サーバーが受け付けない変更", "Changes the server refuses");
pub const DISCARD: Text = t("取り消す", "Discard");
pub const RETENTION: Text = t("訪問記録の保存期間", "Visits are kept");
pub const RETENTION_MONTHS: Text = t("{n} か月", "{n} months");
pub const RETENTION_FOREVER: Text = t("期限なし", "for ever");
pub const ERASE_LOG: Text = t("消去の記録", "Erase log");
pub const NEEDS_REVIEW: Text = ibasho_shared::domain::NEEDS_REVIEW;
pub const COUNT_REFERRALS: Text = t("{n} 件", "{n} referrals");
pub const TAB_REFERRALS: Text = t("つなぐ", "Referrals");
pub const NEW_REFERRAL: Text = t("新しいつなぎ", "New referral");
pub const INCOMING: Text = t("受けたつなぎ", "Received");
pub const OUTGOING: Text = t("送ったつなぎ", "Sent");
pub const WAITING: Text = t("回答待ち {n} 件", "{n} waiting for an answer");
pub const NO_REFERRALS: Text = t("つなぎはありません", "No referrals");
pub const OVERDUE: Text = t("期日超過", "overdue");
pub const ESCALATED: Text = t("支援会議", "Case conference");
pub const ESCALATE: Text = t("支援会議へつなぐ", "Escalate to the case conference");
pub const FROM_VISIT: Text = t("訪問の記録からつなぎます", "Referred from a visit");
pub const SUMMARY_WARNING: Text = t(
    "氏名・住所など、個人が特定できることは書かないでください",
    "Do not write anything that identifies the person (name, address, …)",
);
pub const SEND: Text = t("送る", "Send");
pub const REFER: Text = t("つなぐ", "Refer");
pub const REFERRALS_WAITING: Text = t("つなぐ {n}", "{n} referrals waiting");
pub const TO_RECHECK: Text = t("要再確認（開所時間）", "Hours to re-check");
pub const STILL_CORRECT: Text = t("変わりなし", "Still correct");
pub const TAB_REPORTS: Text = t("報告", "Reports");
pub const COPY_CSV: Text = t("CSVとしてコピー", "Copy as CSV");
pub const COPIED: Text = t("コピーしました", "Copied");
pub const PRINT: Text = t("印刷用に表示", "Print");
pub const CHART_MONTHS: Text = t("月別の訪問（チーム別）", "Visits per month, by team");
pub const CHART_TARGETS: Text = t("対象別の人数", "People reached by target group");
pub const CHART_REFERRALS: Text = t("つなぎの流れ", "Referrals: sent, answered, connected");
pub const CHART_ORGS: Text = t("団体調査の流れ", "The organization survey");
pub const CHART_PLACES: Text = t("カテゴリ別の居場所", "Places by category");
pub const FUNNEL_SENT: Text = t("送付", "Sent");
pub const FUNNEL_ANSWERED: Text = t("回答あり", "Answered");
pub const FUNNEL_CONNECTED: Text = t("つながった", "Connected");
pub const FUNNEL_SURVEYED: Text = t("調査", "Surveyed");
pub const FUNNEL_REPLIED: Text = t("回答", "Replied");
pub const FUNNEL_RELATED: Text = t("関連あり", "Related");
pub const FUNNEL_WANTS: Text = t("参画希望", "Want to join");
pub const FUNNEL_JOINED: Text = t("参画済み", "Joined");
pub const STALE_COUNT: Text = t(
    "開所時間を6か月以上確認していない居場所: {n} 件",
    "Places whose hours were not checked for six months: {n}",
);
pub const NEW_ORG: Text = t("団体を追加", "Add an organization");
pub const ALL_PARTICIPATION: Text = t("すべての参画意向", "Any willingness to join");
pub const ALL_SECTORS: Text = t("すべてのセクター", "All sectors");
pub const ALL_ACTIVITIES: Text = t("すべての活動", "All activities");
pub const SORT: Text = t("並び順", "Order");
pub const SORT_NAME: Text = t("名前順", "By name");
pub const EDIT: Text = t("編集", "Edit");
pub const ERROR_PREFIX: Text = t("エラー", "error");
pub const FILES_REFUSED: Text = t(
    "{read} 文書のうち {refused} 文書は取り込めませんでした（理由は上に）。ほかの文書は読み込み、{changed} 文書が更新されました",
    "{refused} of {read} documents were refused (see above); the others were read, {changed} changed",
);
pub const FILES_READ: Text = t(
    "{read} 文書を読み込み、{changed} 文書が更新されました",
    "read {read} documents, {changed} changed",
);
pub const DEMO_CREATED: Text = t(
    "デモを作成しました: 場所 {places} 件、団体 {orgs} 件、チーム {teams} 件、訪問 {visits} 件",
    "demo created: {places} places, {orgs} organizations, {teams} teams, {visits} visits",
);
pub const COUNT_PLACES: Text = t("{n} 件", "{n} places");
pub const COUNT_VISITS: Text = t("{n} 件", "{n} visits");
pub const CREATED: Text = t("新規作成", "created");
pub const NO_CONFLICTS: Text = t("競合はありません", "no conflicts");
pub const CATEGORIES_HEADING: Text = t("カテゴリ", "Categories");
pub const TARGETS_HEADING: Text = t("対象", "Target groups");
pub const SECTORS_HEADING: Text = t("セクター", "Sectors");
pub const CONTACT_TYPES_HEADING: Text = t("接触の種類", "Contact types");
pub const STATUSES_HEADING: Text = t("状態", "Statuses");
pub const PARTICIPATION_HEADING: Text = t("参画意向", "Willingness to join");
pub const JOINED_AS: Text = t(
    "参加しました: {url} （役割: {role}）",
    "joined {url} as {role}",
);
pub const OFFLINE_EDITS_KEPT: Text = t(
    "オフラインでの編集を残しました: 場所 {places} 件、訪問 {visits} 件（自分のチームに付け替え）",
    "offline edits kept: {places} places, {visits} visits (re-filed under your team)",
);
pub const VISITS_LOCAL_ONLY: Text = t(
    "訪問 {n} 件はこの端末だけに残ります（{role}の役割では訪問を共有できません）",
    "{n} visits stay on this device only: the {role} role cannot share visits",
);
pub const ORGS_LOCAL_ONLY: Text = t(
    "団体 {n} 件はこの端末だけに残ります（{role}の役割では団体名簿に追加できません）",
    "{n} directory entries stay on this device only: the {role} role cannot add to the directory",
);
pub const SYNC_REPORT: Text = t(
    "同期: 送信 {sent} 文書 / 更新 {changed} 文書 / {up} バイト送信, {down} バイト受信",
    "sync: sent {sent} docs, {changed} changed here, {up} bytes up, {down} bytes down",
);
pub const SYNC_REFUSED: Text = t(
    "サーバーが {n} 件の変更を受け付けませんでした。変更はこの端末に残ります（上を参照）",
    "the server refused {n} change(s); they stay on this device (see above)",
);
pub const STATUS_WORKSPACE: Text = t("ワークスペース", "workspace");
pub const STATUS_SERVER: Text = t("サーバー", "server");
pub const STATUS_NO_SERVER: Text = t(
    "サーバー: なし（この端末のみ）",
    "server: none (this device only)",
);
pub const STATUS_UNSENT: Text = t("未送信の変更", "unsent changes");

pub const RETENTION_ERASED: Text = t(
    "保存期間（{n} か月）を過ぎた訪問記録",
    "visits past the workspace's retention ({n} months)",
);
pub const BY_SERVER: Text = t("サーバー", "server");

/// Why something was erased, as the erase log says it: retention in words of `lang`, else the
/// reason as given.
pub fn erasure_reason(e: &ibasho_shared::doc::epoch::Erasure, lang: ibasho_shared::Lang) -> String {
    match e.reason.strip_prefix("retention ") {
        Some(months) if e.by == "server" => fill(RETENTION_ERASED, lang, &[("n", &months)]),
        _ => e.reason.clone(),
    }
}

/// Who asked for an erasure, as the erase log says it.
pub fn erasure_by(e: &ibasho_shared::doc::epoch::Erasure, lang: ibasho_shared::Lang) -> String {
    if e.by == "server" {
        BY_SERVER.get(lang).to_string()
    } else {
        e.by.clone()
    }
}

/// `text` in `lang` with each `{name}` replaced by its value in `values`.
pub fn fill(
    text: Text,
    lang: ibasho_shared::Lang,
    values: &[(&str, &dyn std::fmt::Display)],
) -> String {
    values
        .iter()
        .fold(text.get(lang).to_string(), |out, (name, value)| {
            out.replace(&format!("{{{name}}}"), &value.to_string())
        })
}

#[cfg(test)]
mod tests {
    /// The string literals of `source` after each `Text = t(`, in pairs: (Japanese, English).
    fn catalogue(source: &str) -> Vec<(String, String)> {
        let mut pairs = Vec::new();
        for (at, _) in source.match_indices("Text = t(") {
            let mut rest = &source[at..];
            let mut texts = Vec::new();
            while texts.len() < 2 {
                let Some(open) = rest.find('"') else { break };
                let body = &rest[open + 1..];
                let mut end = 0;
                let mut escaped = false;
                for (i, c) in body.char_indices() {
                    match c {
                        '\\' if !escaped => escaped = true,
                        '"' if !escaped => {
                            end = i;
                            break;
                        }
                        _ => escaped = false,
                    }
                }
                texts.push(body[..end].to_string());
                rest = &body[end + 1..];
            }
            if let [ja, en] = texts.as_slice() {
                pairs.push((ja.clone(), en.clone()));
            }
        }
        pairs
    }

    #[test]
    fn values_fill_their_places_in_both_languages() {
        use ibasho_shared::Lang;
        let n: &dyn std::fmt::Display = &3;
        assert_eq!(
            super::fill(super::COUNT_PLACES, Lang::Ja, &[("n", n)]),
            "3 件"
        );
        assert_eq!(
            super::fill(super::COUNT_PLACES, Lang::En, &[("n", n)]),
            "3 places"
        );
    }

    fn japanese(text: &str) -> bool {
        text.chars().any(|c| ('\u{3040}'..='\u{9fff}').contains(&c))
    }

    /// Every word the window shows exists in both languages: the Japanese in Japanese, the English
    /// with no Japanese left in it. The taxonomy's terms too.
    #[test]
    fn every_text_is_in_japanese_and_in_english() {
        let source = include_str!("text.rs");
        let catalogue_part = &source[..source.find("#[cfg(test)]").unwrap_or(source.len())];
        let pairs = catalogue(catalogue_part);
        assert!(pairs.len() > 50, "the catalogue was read: {}", pairs.len());
        for (ja, en) in &pairs {
            assert!(japanese(ja), "not Japanese: {ja:?}");
            assert!(
                !en.is_empty() && !japanese(en),
                "not English: {en:?} (for {ja:?})"
            );
            assert_ne!(ja, en);
        }
        use ibasho_shared::taxonomy::{
            CATEGORIES, CONTACT_TYPES, PARTICIPATION, SECTORS, STATUSES, TARGET_GROUPS,
        };
        for list in [
            CATEGORIES,
            CONTACT_TYPES,
            PARTICIPATION,
            SECTORS,
            STATUSES,
            TARGET_GROUPS,
        ] {
            for term in list {
                // An acronym Japanese writes in Latin letters (NPO, DV) is the one exception.
                let acronym = term.label.ja.chars().all(|c| c.is_ascii_uppercase());
                assert!(
                    japanese(term.label.ja) || acronym,
                    "{}: {:?}",
                    term.id,
                    term.label.ja
                );
                assert!(!japanese(term.label.en), "{}: {:?}", term.id, term.label.en);
            }
        }
    }
}
