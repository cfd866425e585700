//! The simulated offices: all three Indonesian zones, some in the office catalogue
//! (pipelines/reference/offices.toml) and some not, so both zone rules are used.

pub struct OfficeDef {
    pub id: &'static str,
    /// UTC offset in hours: 7 (WIB), 8 (WITA), 9 (WIT).
    pub offset_h: i32,
    /// Listed in pipelines/reference/offices.toml; its events may then use `Z` times.
    pub catalogued: bool,
    pub services: &'static [&'static str],
    pub weight: u32,
    pub officers: u32,
    /// Officer 00 takes irregular payments far more often than the peers.
    pub corrupt_officer: bool,
}

const DUKCAPIL: &[&str] = &["KTP_EL", "KK", "AKTA_LAHIR", "AKTA_KEMATIAN"];
const SATPAS: &[&str] = &[
    "SIM_A_BARU",
    "SIM_C_BARU",
    "SIM_A_PERPANJANG",
    "SIM_C_PERPANJANG",
];
const POLRES: &[&str] = &["SKCK"];
const SAMSAT: &[&str] = &["STNK_PENGESAHAN"];
const KANIM: &[&str] = &["PASPOR_E10", "PASPOR_E5", "PASPOR_BIASA5"];
const DPMPTSP: &[&str] = &["PBG", "NIB"];
const BPN: &[&str] = &["TANAH_PENDAFTARAN_PERTAMA"];

pub const OFFICES: &[OfficeDef] = &[
    OfficeDef {
        id: "DUKCAPIL-3273",
        offset_h: 7,
        catalogued: true,
        services: DUKCAPIL,
        weight: 12,
        corrupt_officer: true,
        officers: 8,
    },
    OfficeDef {
        id: "DUKCAPIL-3578",
        offset_h: 7,
        catalogued: false,
        services: DUKCAPIL,
        weight: 10,
        corrupt_officer: false,
        officers: 8,
    },
    OfficeDef {
        id: "DUKCAPIL-5171",
        offset_h: 8,
        catalogued: true,
        services: DUKCAPIL,
        weight: 6,
        corrupt_officer: true,
        officers: 6,
    },
    OfficeDef {
        id: "DUKCAPIL-7371",
        offset_h: 8,
        catalogued: false,
        services: DUKCAPIL,
        weight: 6,
        corrupt_officer: false,
        officers: 6,
    },
    OfficeDef {
        id: "DUKCAPIL-9471",
        offset_h: 9,
        catalogued: false,
        services: DUKCAPIL,
        weight: 4,
        corrupt_officer: true,
        officers: 5,
    },
    OfficeDef {
        id: "SATPAS-POLDA-JABAR",
        offset_h: 7,
        catalogued: true,
        services: SATPAS,
        weight: 8,
        corrupt_officer: false,
        officers: 7,
    },
    OfficeDef {
        id: "SATPAS-POLDA-SULSEL",
        offset_h: 8,
        catalogued: false,
        services: SATPAS,
        weight: 5,
        corrupt_officer: true,
        officers: 6,
    },
    OfficeDef {
        id: "POLRESTABES-BANDUNG",
        offset_h: 7,
        catalogued: false,
        services: POLRES,
        weight: 5,
        corrupt_officer: false,
        officers: 5,
    },
    OfficeDef {
        id: "SAMSAT-DENPASAR",
        offset_h: 8,
        catalogued: false,
        services: SAMSAT,
        weight: 5,
        corrupt_officer: true,
        officers: 5,
    },
    OfficeDef {
        id: "KANIM-JAKARTA-SELATAN",
        offset_h: 7,
        catalogued: true,
        services: KANIM,
        weight: 7,
        corrupt_officer: false,
        officers: 7,
    },
    OfficeDef {
        id: "KANIM-AMBON",
        offset_h: 9,
        catalogued: false,
        services: KANIM,
        weight: 3,
        corrupt_officer: true,
        officers: 5,
    },
    OfficeDef {
        id: "DPMPTSP-3273",
        offset_h: 7,
        catalogued: false,
        services: DPMPTSP,
        weight: 5,
        corrupt_officer: false,
        officers: 5,
    },
    OfficeDef {
        id: "DPMPTSP-8271",
        offset_h: 9,
        catalogued: true,
        services: DPMPTSP,
        weight: 3,
        corrupt_officer: true,
        officers: 5,
    },
    OfficeDef {
        id: "BPN-3578",
        offset_h: 7,
        catalogued: false,
        services: BPN,
        weight: 4,
        corrupt_officer: false,
        officers: 5,
    },
];
