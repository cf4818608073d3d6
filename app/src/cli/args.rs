//! Command-line grammar.

use clap::{Args, Parser, Subcommand, ValueEnum};
use ibasho_shared::Lang;
use std::path::PathBuf;

/// ibasho — 居場所: an offline-first field tool for community outreach.
#[derive(Debug, Parser)]
#[command(name = "ibasho", version, about)]
pub struct Cli {
    /// Where this device's replica lives (default: the platform data directory).
    #[arg(long, global = true, env = "IBASHO_HOME")]
    pub home: Option<PathBuf>,
    /// Language of messages: ja (default) or en.
    #[arg(long, global = true, env = "IBASHO_LANG", default_value = "ja")]
    pub lang: Lang,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a local workspace on this device (usable with no server).
    Init {
        /// Workspace name, e.g. "座間市 孤独・孤立官民連携PF".
        #[arg(long)]
        name: String,
        /// Your display name, recorded on your changes (default: $USER).
        #[arg(long)]
        person: Option<String>,
    },
    /// Create a demo workspace (a Zama-like city: ~300 places, organizations, teams, visits) that
    /// works offline.
    Demo {
        /// Places to generate.
        #[arg(long, default_value_t = 300)]
        places: usize,
        /// Seed (the same seed gives the same city).
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
    /// Open the app window (desktop).
    App,
    /// Print categories, target groups, sectors and contact types with their labels.
    Taxonomy {
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Gathering places (居場所).
    #[command(subcommand)]
    Place(PlaceCmd),
    /// Visits, follow-ups and referrals.
    #[command(subcommand)]
    Visit(VisitCmd),
    /// Referrals (つなぐ) between teams and to organizations.
    #[command(subcommand)]
    Referral(ReferralCmd),
    /// The member-organization directory.
    #[command(subcommand)]
    Org(OrgCmd),
    /// Teams of the workspace.
    #[command(subcommand)]
    Team(TeamCmd),
    /// List fields edited concurrently on two devices, or resolve one.
    Conflicts {
        /// As JSON.
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        action: Option<ConflictCmd>,
    },
    /// Join a workspace on a sync server with an invite (URL like http://127.0.0.1:7700).
    Join {
        url: String,
        invite: String,
        /// Your display name, recorded on your changes (default: $USER).
        #[arg(long)]
        person: Option<String>,
        /// A CA certificate (PEM file) to check the server's certificate against, besides the
        /// usual roots: a municipality's private CA. Remembered for later syncs.
        #[arg(long)]
        ca_cert: Option<std::path::PathBuf>,
    },
    /// Exchange everything with the server once; prints what moved. With --watch, stay connected.
    Sync {
        /// Stay connected: push edits as they happen, reconnect with backoff.
        #[arg(long)]
        watch: bool,
        /// With --watch: seconds the server may stay silent (it is pinged after a third of that)
        /// before the connection is taken to be dead and made again.
        #[arg(long, default_value_t = crate::sync::SERVER_SILENCE.as_secs())]
        server_silence_secs: u64,
        #[arg(long)]
        json: bool,
    },
    /// Erase a record, or one field's past values, everywhere (coordinators; needs the server):
    /// the document holding it is rewritten without them, on the server and on every device at
    /// its next sync.
    Erase {
        /// The record's id.
        id: String,
        /// Only this field's past values (its current value stays).
        field: Option<String>,
        /// Why (kept in the erase log; never the erased value).
        #[arg(long)]
        reason: String,
    },
    /// The erase log: what was erased, when, by whom and why (never the erased values).
    Erasures {
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Drop this device's unsent change to a record (one field, or all of the record) that the
    /// server refuses, so that sync is clean again.
    Discard {
        /// The record's id.
        id: String,
        /// Only this field.
        field: Option<String>,
    },
    /// Outcome figures of a period: visits (also of months retention erased), follow-ups,
    /// referrals, organizations and places, of what this device may see.
    Report {
        /// First month, YYYY-MM (default: the current fiscal year, April to March).
        #[arg(long)]
        from: Option<String>,
        /// Last month, YYYY-MM.
        #[arg(long)]
        to: Option<String>,
        /// As JSON: one object per section, each with `total` and `by_<dimension>` maps.
        #[arg(long)]
        json: bool,
        /// Also write every figure to this CSV file (UTF-8 with BOM, for Excel).
        #[arg(long)]
        csv: Option<std::path::PathBuf>,
        /// For publishing: counts below the minimum cell (3) show as <3, further cells are hidden
        /// (x) so that none can be worked out from the totals, and the publication is logged (a
        /// later one whose period overlaps without being the same is refused).
        #[arg(long)]
        publish: bool,
        /// The minimum cell when publishing (implies --publish).
        #[arg(long)]
        min_cell: Option<i64>,
    },
    /// Server, role, team, unsent changes and last sync.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Street-map areas kept on this device for use without a connection.
    #[command(subcommand)]
    Tiles(TilesCmd),
    /// Write places or documents to files.
    #[command(subcommand)]
    Export(ExportCmd),
    /// Read places from a file.
    #[command(subcommand)]
    Import(ImportCmd),
}

#[derive(Debug, Subcommand)]
pub enum PlaceCmd {
    /// Add a place; prints its id.
    Add(Box<PlaceAdd>),
    /// Set one field: name, reading, category, targets, lat, lon, accuracy_m, address, hours,
    /// contact, description, status, listing_consent, hours_checked_at.
    Set {
        id: String,
        field: String,
        /// The new value (may start with '-', e.g. a longitude).
        #[arg(allow_hyphen_values = true)]
        value: String,
    },
    /// The place's opening hours are still correct: stamps them checked today.
    Checked { id: String },
    /// Delete a place (it can be restored).
    Delete { id: String },
    /// Restore a deleted place.
    Restore { id: String },
    /// Show one place.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// List places.
    List(PlaceList),
    /// Who changed what, when.
    History {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct PlaceAdd {
    /// Name.
    #[arg(long)]
    pub name: String,
    /// Category id or label (see `ibasho taxonomy`).
    #[arg(long)]
    pub category: String,
    /// Latitude.
    #[arg(long, allow_hyphen_values = true)]
    pub lat: f64,
    /// Longitude.
    #[arg(long, allow_hyphen_values = true)]
    pub lon: f64,
    /// Target group id or label; repeat or separate with commas.
    #[arg(long = "target")]
    pub targets: Vec<String>,
    /// Opening hours, OSM syntax, e.g. "Mo-Fr 10:00-16:00; PH off".
    #[arg(long)]
    pub hours: Option<String>,
    /// Address.
    #[arg(long)]
    pub address: Option<String>,
    /// Reading (よみがな).
    #[arg(long)]
    pub reading: Option<String>,
    /// Contact.
    #[arg(long)]
    pub contact: Option<String>,
    /// Description.
    #[arg(long)]
    pub description: Option<String>,
    /// Status: active, temporarily_closed, moved, closed.
    #[arg(long)]
    pub status: Option<String>,
    /// The place agreed to be listed publicly.
    #[arg(long)]
    pub consent: bool,
    /// GPS accuracy in metres.
    #[arg(long)]
    pub accuracy_m: Option<f64>,
}

#[derive(Debug, Args)]
pub struct PlaceList {
    /// As JSON.
    #[arg(long)]
    pub json: bool,
    /// Centre for a radius search: LAT,LON.
    #[arg(long, allow_hyphen_values = true)]
    pub near: Option<String>,
    /// Radius around --near, in metres.
    #[arg(long, default_value_t = 1000.0)]
    pub radius_m: f64,
    /// Category id or label.
    #[arg(long)]
    pub category: Option<String>,
    /// Target group id or label.
    #[arg(long)]
    pub target: Option<String>,
    /// Status id or label.
    #[arg(long)]
    pub status: Option<String>,
    /// Only places open now (Japan time, Japanese public holidays).
    #[arg(long)]
    pub open_now: bool,
    /// Full-text search (Japanese works).
    #[arg(long)]
    pub search: Option<String>,
    /// Include deleted places.
    #[arg(long)]
    pub deleted: bool,
    /// Only places whose opening hours were not checked for --stale-months, or never.
    #[arg(long)]
    pub stale: bool,
    /// Months after which opening hours count as unchecked.
    #[arg(long, default_value_t = 6)]
    pub stale_months: u32,
}

#[derive(Debug, Subcommand)]
pub enum VisitCmd {
    /// Log a visit; prints its id.
    Add(Box<VisitAdd>),
    /// List visits.
    List {
        #[arg(long)]
        json: bool,
        /// Only visits whose follow-up is due (today or earlier, not done).
        #[arg(long)]
        due: bool,
        /// Only this team.
        #[arg(long)]
        team: Option<String>,
    },
    /// Set one field: kind, targets, people, follow_up, follow_up_done, referral_to,
    /// referral_reason, referral_outcome.
    Set {
        id: String,
        field: String,
        /// The new value (may start with '-', e.g. a longitude).
        #[arg(allow_hyphen_values = true)]
        value: String,
    },
    /// Delete a visit (it can be restored; to wipe it everywhere, a coordinator uses `erase`).
    Delete { id: String },
    /// Restore a deleted visit.
    Restore { id: String },
}

#[derive(Debug, Subcommand)]
pub enum ReferralCmd {
    /// Refer from this device's team to another team or an organization; prints the id.
    Add(Box<ReferralAdd>),
    /// List referrals: 要確認 marks steps the two sides took at once that do not fit together.
    List {
        /// Only those to this device's team.
        #[arg(long, conflicts_with = "outgoing")]
        incoming: bool,
        /// Only those from this device's team.
        #[arg(long)]
        outgoing: bool,
        /// Only this status (sent, accepted, declined, withdrawn, in_progress, connected,
        /// not_connected, or a label).
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Take a step: `set ID status accepted|in_progress|connected|not_connected|declined`
    /// (the receiving team; `withdrawn` is the sending team's, see `withdraw`).
    Set {
        id: String,
        /// Only `status`.
        field: String,
        value: String,
        /// Why (required for declined and not_connected): unreachable, not_eligible,
        /// no_capacity, person_declined, resolved, other (or a label).
        #[arg(long)]
        reason: Option<String>,
        /// A note to the step.
        #[arg(long)]
        note: Option<String>,
    },
    /// Escalate a case to the workspace's case conference (支援会議): a referral to that team,
    /// readable only by this team, it and coordinators; prints the id.
    Escalate {
        /// Why: 生活困窮, ひきこもり, … (or their ids).
        #[arg(long)]
        reason: String,
        /// The visit it comes from.
        #[arg(long)]
        visit: Option<String>,
        /// A short summary that does not identify the person.
        #[arg(long)]
        summary: Option<String>,
        /// How many people.
        #[arg(long, default_value_t = 1)]
        people: u32,
    },
    /// Each step of a referral: who took it, when.
    History {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Withdraw a referral the team sent.
    Withdraw {
        id: String,
        /// Why (required): resolved, person_declined, other … (or a label).
        #[arg(long)]
        reason: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct ReferralAdd {
    /// The receiving team's id.
    #[arg(long, conflicts_with = "to_org", required_unless_present = "to_org")]
    pub to_team: Option<String>,
    /// Or an organization of the directory with no team.
    #[arg(long)]
    pub to_org: Option<String>,
    /// Why: 生活困窮, ひきこもり, 子育て, 高齢・介護, 障害, 心の健康, DV, 住まい, 就労, 孤立,
    /// その他 (or their ids).
    #[arg(long)]
    pub reason: String,
    /// Target groups, comma-separated or repeated.
    #[arg(long = "target")]
    pub targets: Vec<String>,
    /// How many people.
    #[arg(long, default_value_t = 1)]
    pub people: u32,
    /// When an answer is due (YYYY-MM-DD).
    #[arg(long)]
    pub due: Option<String>,
    /// The visit it comes from.
    #[arg(long)]
    pub visit: Option<String>,
    /// A short summary that does not identify the person.
    #[arg(long)]
    pub summary: Option<String>,
}

#[derive(Debug, Args)]
pub struct VisitAdd {
    /// The place visited.
    #[arg(long)]
    pub place: Option<String>,
    /// Contact type: visit, phone, event, walk_in (or a label).
    #[arg(long)]
    pub kind: String,
    /// People reached.
    #[arg(long, default_value_t = 1)]
    pub people: u32,
    /// Follow-up due date (YYYY-MM-DD).
    #[arg(long)]
    pub follow_up: Option<String>,
    /// Private note: stays on this device.
    #[arg(long)]
    pub note: Option<String>,
    /// Target group; repeat or separate with commas.
    #[arg(long = "target")]
    pub targets: Vec<String>,
    /// When (YYYY-MM-DDTHH:MM, Japan time; default now).
    #[arg(long)]
    pub at: Option<String>,
    /// Team id (default: this device's team).
    #[arg(long)]
    pub team: Option<String>,
    /// Area instead of a place: latitude.
    #[arg(long, allow_hyphen_values = true)]
    pub lat: Option<f64>,
    /// Area instead of a place: longitude.
    #[arg(long, allow_hyphen_values = true)]
    pub lon: Option<f64>,
    /// Earlier visit this one follows up.
    #[arg(long)]
    pub follows: Option<String>,
    /// Organization id referred to (つなぐ).
    #[arg(long)]
    pub referral_to: Option<String>,
    /// Reason for the referral.
    #[arg(long)]
    pub referral_reason: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum OrgCmd {
    /// Add a directory entry; prints its id.
    Add {
        #[arg(long)]
        name: String,
        /// Sector id or label (行政, 社協, NPO, 企業, 地域団体, 個人).
        #[arg(long)]
        sector: String,
        #[arg(long)]
        contact: Option<String>,
        /// What they offer.
        #[arg(long)]
        offers: Option<String>,
        /// Willingness to join: joined, wants, considering, not_now.
        #[arg(long)]
        participation: Option<String>,
        #[arg(long)]
        introduced_by: Option<String>,
        /// They asked to be listed publicly.
        #[arg(long)]
        consent: bool,
    },
    /// List the directory.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Set one field.
    Set {
        id: String,
        field: String,
        /// The new value (may start with '-', e.g. a longitude).
        #[arg(allow_hyphen_values = true)]
        value: String,
    },
    /// Import the directory and the organization survey from CSV (UTF-8 or Shift_JIS; headers
    /// by id or label: 名称, セクター, 参画意向, 調査日, 回答, 活動, 拠点地域, 情報提供希望, 公開掲載の同意,
    /// 連絡先, 提供できること, 紹介者). A row whose id, or name and contact, names an entry updates it.
    Import {
        file: PathBuf,
        /// Import the valid rows and report the others (default: nothing unless every row is valid).
        #[arg(long)]
        skip_invalid: bool,
    },
    /// Export the directory as CSV (Excel) or GeoJSON.
    Export {
        /// csv or geojson.
        format: OrgFormat,
        /// Output file (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Only organizations that agreed to be listed publicly.
        #[arg(long)]
        public: bool,
    },
}

/// A directory export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OrgFormat {
    /// CSV that Excel opens.
    Csv,
    /// GeoJSON (null geometries: organizations have no location).
    Geojson,
}

#[derive(Debug, Subcommand)]
pub enum TeamCmd {
    /// Add a team; prints its id.
    Add { name: String },
    /// List teams.
    List,
}

#[derive(Debug, Subcommand)]
pub enum ConflictCmd {
    /// Keep value number CHOICE (as `ibasho conflicts` numbers them) for RECORD's FIELD.
    Resolve {
        record: String,
        field: String,
        choice: usize,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PlaceFormat {
    Geojson,
    Csv,
}

#[derive(Debug, Subcommand)]
pub enum ExportCmd {
    /// Places as GeoJSON (RFC 7946).
    Geojson(ExportPlaces),
    /// Places as CSV that Excel opens (UTF-8 with BOM).
    Csv(ExportPlaces),
    /// Every document's raw Automerge bytes, one file per document.
    Automerge {
        #[arg(long)]
        out: PathBuf,
    },
    /// Referrals this device may see as an HL7 FHIR Bundle of Tasks (SDOH closed-loop referral).
    Fhir {
        /// Output file (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct ExportPlaces {
    /// Output file (default: standard output).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Only places with public-listing consent.
    #[arg(long)]
    pub public: bool,
}

#[derive(Debug, Subcommand)]
pub enum ImportCmd {
    /// Merge documents written by `ibasho export automerge` on another device (e.g. carried on a
    /// USB stick): every `*.automerge` file in DIR.
    Automerge {
        dir: PathBuf,
        /// Your display name, when this device has none yet (default: $USER).
        #[arg(long)]
        person: Option<String>,
    },
    /// Places from CSV (UTF-8 or Shift_JIS).
    Csv {
        file: PathBuf,
        /// Import the valid rows even when some are refused.
        #[arg(long)]
        skip_invalid: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TilesCmd {
    /// Download an area of the basemap into this device's pack (HOME/tiles.mbtiles, MBTiles 1.3):
    /// prints the tile count and size first, then progress. Run it again to resume an
    /// interrupted download, or to fetch only the tiles that changed at the source.
    Download {
        /// The area as S,W,N,E in degrees (default: where the workspace's places are).
        #[arg(long, conflicts_with = "around")]
        bbox: Option<String>,
        /// The area around LAT,LON, with --radius-km.
        #[arg(long, requires = "radius_km")]
        around: Option<String>,
        /// How far around, in km (at most 50).
        #[arg(long)]
        radius_km: Option<f64>,
        /// Zooms MIN-MAX (or one), 0 to 18.
        #[arg(long, default_value = "10-17")]
        zoom: String,
        /// An XYZ URL template (default: the basemap in settings, else 国土地理院's 標準地図).
        #[arg(long)]
        url: Option<String>,
        /// The attribution to show with --url's tiles.
        #[arg(long, requires = "url")]
        attribution: Option<String>,
        /// A name for the area in `tiles list`.
        #[arg(long)]
        name: Option<String>,
        /// Only print the tile count and size.
        #[arg(long)]
        estimate: bool,
        /// Do not read the source's list of tiles (mokuroku.csv.gz) even when it has one.
        #[arg(long, conflicts_with = "list")]
        no_list: bool,
        /// Read the source's list of tiles whatever its size (by default a list over 64 MB is
        /// left alone and the size is estimated).
        #[arg(long)]
        list: bool,
        /// Requests per second, above 0 and at most 50.
        #[arg(long, default_value_t = crate::tiles::DEFAULT_RATE, value_parser = rate)]
        rate: f64,
    },
    /// The areas on this device.
    List {
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete an area and its tiles that no other area holds.
    Delete {
        /// The area's number (see `tiles list`).
        id: i64,
    },
}

/// `--rate`: a number of requests per second above 0 and at most 50.
fn rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 && r <= crate::tiles::MAX_RATE => Ok(r),
        _ => Err(format!(
            "expected a number of requests per second above 0 and at most {}",
            crate::tiles::MAX_RATE
        )),
    }
}
