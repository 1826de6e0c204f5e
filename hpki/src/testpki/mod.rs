//! A deterministic test PKI shaped like HPKI (docs/design.md §6): an MHLW-like root, JMA-like and
//! MEDIS-like authentication and signature issuing CAs, end entities for doctors, pharmacists
//! and hospital directors, CRLs with revoked entries, and virtual cards.
//!
//! Everything is derived from a seed (keys by ChaCha20 seeded from SHA-256(seed, label)); times
//! are fixed, so the same seed gives the same files. Use [`TestPki::VALID_AT`] as "now".

mod build;
mod card;
mod der;
mod keys;
pub mod mutate;

pub use build::{
    CertSpec, CrlSpec, HcRoleEncoding, Issued, hc_role_value, issue, issue_crl, issue_with_algorithm, name,
};
pub use card::{APP_VERSION, VirtualCard};
pub use der::pem;
pub use keys::{KeyKind, TestKey};

use time::OffsetDateTime;
use time::macros::datetime;

use crate::oids;

/// Which issuing CA a test end entity hangs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Issuer {
    /// JMA-like authentication CA (RSA).
    JmaAuth,
    /// JMA-like signature CA (RSA).
    JmaSign,
    /// MEDIS-like authentication CA (P-256).
    MedisAuth,
    /// MEDIS-like signature CA (RSA).
    MedisSign,
}

/// One test end entity.
#[derive(Debug, Clone)]
pub struct TestCard {
    /// File stem, e.g. `doctor-auth`.
    pub name: String,
    /// hcRole.
    pub role: String,
    /// Issuing CA.
    pub issuer: Issuer,
    /// Whether it is a signature (non-repudiation) certificate.
    pub signature: bool,
    /// Whether the issuer's CRL lists it.
    pub revoked: bool,
    /// The certificate and key.
    pub issued: Issued,
}

impl TestCard {
    /// The card as a virtual card.
    pub fn virtual_card(&self) -> VirtualCard {
        VirtualCard { certificate: self.issued.der.clone(), key: self.issued.key.clone() }
    }
}

/// The generated PKI.
#[derive(Debug, Clone)]
pub struct TestPki {
    /// The seed it was generated from.
    pub seed: u64,
    /// MHLW-like root.
    pub root: Issued,
    /// JMA-like authentication CA.
    pub jma_auth: Issued,
    /// JMA-like signature CA.
    pub jma_sign: Issued,
    /// MEDIS-like authentication CA.
    pub medis_auth: Issued,
    /// MEDIS-like signature CA.
    pub medis_sign: Issued,
    /// End entities.
    pub cards: Vec<TestCard>,
    /// CRLs (DER): `(file stem, issuer, bytes)`; the root's lists no CA, the others revoke.
    pub crls: Vec<(String, String, Vec<u8>)>,
}

/// A card to generate: name, issuer, role, key, signature?, revoked?, romaji, kanji, subscriber id, org.
type CardPlan = (
    &'static str,
    Issuer,
    &'static str,
    KeyKind,
    bool,
    bool,
    &'static str,
    &'static str,
    &'static str,
    Option<(&'static str, &'static str)>,
);

/// Serials are `0x1001 +` the index, so new cards go at the end (earlier cards keep their
/// serials; keys depend only on the seed and the name).
const CARDS: [CardPlan; 9] = [
    (
        "doctor-auth",
        Issuer::JmaAuth,
        "Medical Doctor",
        KeyKind::Rsa2048,
        false,
        false,
        "Taro Nihon",
        "日本　太郎",
        "TESTJ00001",
        None,
    ),
    (
        "doctor-sign",
        Issuer::JmaSign,
        "Medical Doctor",
        KeyKind::Rsa2048,
        true,
        false,
        "Taro Nihon",
        "日本　太郎",
        "TESTJ00001",
        None,
    ),
    (
        "doctor-auth-p384",
        Issuer::JmaAuth,
        "Medical Doctor",
        KeyKind::P384,
        false,
        false,
        "Jiro Nihon",
        "日本　次郎",
        "TESTJ00002",
        None,
    ),
    (
        "revoked-doctor-auth",
        Issuer::JmaAuth,
        "Medical Doctor",
        KeyKind::Rsa2048,
        false,
        true,
        "Saburo Nihon",
        "日本　三郎",
        "TESTJ00003",
        None,
    ),
    (
        "pharmacist-auth",
        Issuer::MedisAuth,
        "Pharmacist",
        KeyKind::Rsa2048,
        false,
        false,
        "Hanako Shikaku",
        "資格　花子",
        "TESTM00001",
        Some(("SHIKAKU TEST HOSPITAL", "資格テスト病院")),
    ),
    (
        "director-auth",
        Issuer::MedisAuth,
        "Director of Hospital",
        KeyKind::P256,
        false,
        false,
        "Ichiro Shikaku",
        "資格　一郎",
        "TESTM00002",
        Some(("SHIKAKU TEST HOSPITAL", "資格テスト病院")),
    ),
    (
        "doctor-auth-p256",
        Issuer::MedisAuth,
        "Medical Doctor",
        KeyKind::P256,
        false,
        false,
        "Natsuko Shikaku",
        "資格　夏子",
        "TESTM00003",
        Some(("SHIKAKU TEST HOSPITAL", "資格テスト病院")),
    ),
    (
        "doctor-auth-p521",
        Issuer::JmaAuth,
        "Medical Doctor",
        KeyKind::P521,
        false,
        false,
        "Shiro Nihon",
        "日本　四郎",
        "TESTJ00004",
        None,
    ),
    (
        "doctor-sign-p256",
        Issuer::MedisSign,
        "Medical Doctor",
        KeyKind::P256,
        true,
        false,
        "Natsuko Shikaku",
        "資格　夏子",
        "TESTM00003",
        Some(("SHIKAKU TEST HOSPITAL", "資格テスト病院")),
    ),
];

impl TestPki {
    /// A time inside every validity period and CRL window of the test PKI.
    pub const VALID_AT: OffsetDateTime = datetime!(2026-06-01 00:00 UTC);
    /// End-entity notBefore.
    pub const EE_NOT_BEFORE: OffsetDateTime = datetime!(2025-04-01 00:00 UTC);
    /// End-entity notAfter.
    pub const EE_NOT_AFTER: OffsetDateTime = datetime!(2030-03-31 23:59:59 UTC);
    /// CRL thisUpdate.
    pub const CRL_THIS_UPDATE: OffsetDateTime = datetime!(2026-01-01 00:00 UTC);
    /// CRL nextUpdate.
    pub const CRL_NEXT_UPDATE: OffsetDateTime = datetime!(2031-01-01 00:00 UTC);

    /// Generates the PKI from `seed`.
    pub fn generate(seed: u64) -> Result<TestPki, String> {
        let root_key = TestKey::generate(KeyKind::Rsa2048, seed, "root")?;
        let root = issue(
            &CertSpec {
                subject: name(&[
                    ("C", "JP"),
                    ("O", "Ministry of Health, Labour and Welfare (TEST)"),
                    ("OU", "Director-General for Policy Planning and Evaluation"),
                    ("OU", "TEST HPKI Root CA V2"),
                ]),
                serial: 1,
                not_before: datetime!(2024-01-01 00:00 UTC),
                not_after: datetime!(2054-01-01 00:00 UTC),
                ca: Some(None),
                key_usage: Some(vec![5, 6]),
                eku: None,
                policies: Vec::new(),
                policies_critical: false,
                hc_role: None,
                kanji: None,
                crl_uri: None,
                crl_directory_name: None,
                extra_extensions: Vec::new(),
            },
            &root_key,
            None,
        )?;
        let ca = |label: &str,
                  kind,
                  org: &str,
                  ou: &str,
                  cn: &str,
                  policy: &str,
                  serial|
         -> Result<Issued, String> {
            let key = TestKey::generate(kind, seed, label)?;
            let mut spec = CertSpec::ca(
                name(&[("C", "JP"), ("O", org), ("OU", ou), ("CN", cn)]),
                serial,
                Some(0),
                policy,
            );
            if org.starts_with("Japan") {
                // Like the real JMA CA: the distribution point is a directoryName.
                spec.crl_directory_name = Some(name(&[
                    ("C", "JP"),
                    ("O", "Ministry of Health, Labour and Welfare (TEST)"),
                    ("OU", "TEST HPKI Root CA V2"),
                    ("CN", "SARL"),
                ]));
            }
            issue(&spec, &key, Some(&root))
        };
        let jma = "Japan Medical Association (TEST)";
        let jma_auth = ca(
            "jma-auth",
            KeyKind::Rsa2048,
            jma,
            "Digital Certificate Center",
            "TEST-HPKI-01-JMA-forAuthentication",
            oids::POLICY_AUTH_CA,
            2,
        )?;
        let jma_sign = ca(
            "jma-sign",
            KeyKind::Rsa2048,
            jma,
            "Digital Certificate Center",
            "TEST-HPKI-01-JMA-forNonRepudiation",
            oids::POLICY_SIGNATURE_CA,
            3,
        )?;
        let medis_auth = ca(
            "medis-auth",
            KeyKind::P256,
            "MEDIS (TEST)",
            "MEDIS HPKI CA",
            "TEST-HPKI-01-MedisAuthCA-forAuthentication",
            oids::POLICY_AUTH_CA,
            4,
        )?;
        let medis_sign = ca(
            "medis-sign",
            KeyKind::Rsa2048,
            "MEDIS (TEST)",
            "MEDIS HPKI CA",
            "TEST-HPKI-01-MedisSignCA-forNonRepudiation",
            oids::POLICY_SIGNATURE_CA,
            5,
        )?;

        let mut pki = TestPki {
            seed,
            root,
            jma_auth,
            jma_sign,
            medis_auth,
            medis_sign,
            cards: Vec::new(),
            crls: Vec::new(),
        };
        for (i, (card_name, issuer, role, kind, signature, revoked, romaji, kanji, subscriber, org)) in
            CARDS.into_iter().enumerate()
        {
            let key = TestKey::generate(kind, seed, card_name)?;
            let mut subject = vec![("C", "JP")];
            if let Some((o, _)) = org {
                subject.push(("O", o));
            }
            subject.push(("CN", romaji));
            subject.push(("serialNumber", subscriber));
            let mut spec = CertSpec::end_entity(name(&subject), 0x1001 + i as u64, role, signature);
            spec.kanji = Some((org.map(|(_, k)| k.to_owned()), kanji.to_owned()));
            spec.crl_uri = Some(format!("http://crl.shikaku.invalid/{}.crl", issuer_stem(issuer)));
            if card_name == "doctor-auth" {
                spec.eku = Some(vec![oids::EKU_CLIENT_AUTH.to_owned()]);
            }
            let issued = issue(&spec, &key, Some(pki.issuer(issuer)))?;
            pki.cards.push(TestCard {
                name: card_name.to_owned(),
                role: role.to_owned(),
                issuer,
                signature,
                revoked,
                issued,
            });
        }
        let mut crls = Vec::new();
        for issuer in [Issuer::JmaAuth, Issuer::JmaSign, Issuer::MedisAuth, Issuer::MedisSign] {
            let mut revoked: Vec<(u64, OffsetDateTime)> =
                (0..5).map(|n| (0x9000 + n, datetime!(2025-10-01 00:00 UTC))).collect();
            revoked.extend(
                pki.cards
                    .iter()
                    .filter(|c| c.issuer == issuer && c.revoked)
                    .map(|c| (c.issued.serial, datetime!(2025-12-01 00:00 UTC))),
            );
            let spec = CrlSpec {
                this_update: Self::CRL_THIS_UPDATE,
                next_update: Some(Self::CRL_NEXT_UPDATE),
                revoked,
                number: 1,
                delta: false,
            };
            let ca = pki.issuer(issuer);
            crls.push((
                format!("crl-{}", issuer_stem(issuer)),
                crate::names::hex(&ca.key_id),
                issue_crl(&spec, ca, None)?,
            ));
        }
        let arl = CrlSpec {
            this_update: Self::CRL_THIS_UPDATE,
            next_update: Some(Self::CRL_NEXT_UPDATE),
            revoked: Vec::new(),
            number: 1,
            delta: false,
        };
        crls.push((
            "crl-root".to_owned(),
            crate::names::hex(&pki.root.key_id),
            issue_crl(&arl, &pki.root, None)?,
        ));
        pki.crls = crls;
        Ok(pki)
    }

    /// The issuing CA certificate of `issuer`.
    pub fn issuer(&self, issuer: Issuer) -> &Issued {
        match issuer {
            Issuer::JmaAuth => &self.jma_auth,
            Issuer::JmaSign => &self.jma_sign,
            Issuer::MedisAuth => &self.medis_auth,
            Issuer::MedisSign => &self.medis_sign,
        }
    }

    /// The card named `name`.
    pub fn card(&self, name: &str) -> Option<&TestCard> {
        self.cards.iter().find(|c| c.name == name)
    }

    /// DER of the root and the four issuing CAs.
    pub fn ca_certificates(&self) -> Vec<&[u8]> {
        [&self.root, &self.jma_auth, &self.jma_sign, &self.medis_auth, &self.medis_sign]
            .into_iter()
            .map(|c| c.der.as_slice())
            .collect()
    }

    /// DER of every CRL.
    pub fn crl_ders(&self) -> Vec<&[u8]> {
        self.crls.iter().map(|(_, _, d)| d.as_slice()).collect()
    }

    /// Every file of the PKI as `(relative path, bytes)`: certificates as `.der` and `.pem`,
    /// keys as PKCS#8 `.key.der` and `.key.pem`, CRLs as `.crl` (DER) and `.crl.pem`, and a
    /// `manifest.json` naming each card's role, issuer and files.
    pub fn files(&self) -> Result<Vec<(String, Vec<u8>)>, String> {
        let mut out = Vec::new();
        let mut put_cert = |stem: &str, issued: &Issued| -> Result<(), String> {
            out.push((format!("{stem}.der"), issued.der.clone()));
            out.push((format!("{stem}.pem"), issued.pem().into_bytes()));
            let key = issued.key.pkcs8_der()?;
            out.push((format!("{stem}.key.pem"), pem("PRIVATE KEY", &key).into_bytes()));
            out.push((format!("{stem}.key.der"), key));
            Ok(())
        };
        put_cert("ca-root", &self.root)?;
        for issuer in [Issuer::JmaAuth, Issuer::JmaSign, Issuer::MedisAuth, Issuer::MedisSign] {
            put_cert(&format!("ca-{}", issuer_stem(issuer)), self.issuer(issuer))?;
        }
        for card in &self.cards {
            put_cert(&card.name, &card.issued)?;
        }
        for (stem, _, crl) in &self.crls {
            out.push((format!("{stem}.crl"), crl.clone()));
            out.push((format!("{stem}.crl.pem"), pem("X509 CRL", crl).into_bytes()));
        }
        let manifest = serde_json::json!({
            "seed": self.seed,
            "valid_at": "2026-06-01T00:00:00Z",
            "ca_certificates": ["ca-root.pem", "ca-jma-auth.pem", "ca-jma-sign.pem", "ca-medis-auth.pem", "ca-medis-sign.pem"],
            "crls": self.crls.iter().map(|(s, _, _)| format!("{s}.crl")).collect::<Vec<_>>(),
            "cards": self.cards.iter().map(|c| serde_json::json!({
                "name": c.name,
                "role": c.role,
                "issuer": format!("ca-{}", issuer_stem(c.issuer)),
                "purpose": if c.signature { "signature" } else { "authentication" },
                "revoked": c.revoked,
                "certificate": format!("{}.pem", c.name),
                "key": format!("{}.key.pem", c.name),
            })).collect::<Vec<_>>(),
        });
        out.push((
            "manifest.json".to_owned(),
            serde_json::to_vec_pretty(&manifest).map_err(|e| e.to_string())?,
        ));
        Ok(out)
    }
}

fn issuer_stem(issuer: Issuer) -> &'static str {
    match issuer {
        Issuer::JmaAuth => "jma-auth",
        Issuer::JmaSign => "jma-sign",
        Issuer::MedisAuth => "medis-auth",
        Issuer::MedisSign => "medis-sign",
    }
}

impl CertSpec {
    /// An issuing CA: basicConstraints cA (critical, `path_len`), keyUsage keyCertSign+cRLSign,
    /// certificatePolicies `policy` (critical), valid 2024–2044.
    pub fn ca(subject: Vec<(String, String)>, serial: u64, path_len: Option<u8>, policy: &str) -> CertSpec {
        CertSpec {
            subject,
            serial,
            not_before: datetime!(2024-01-01 00:00 UTC),
            not_after: datetime!(2044-01-01 00:00 UTC),
            ca: Some(path_len),
            key_usage: Some(vec![5, 6]),
            eku: None,
            policies: vec![policy.to_owned()],
            policies_critical: true,
            hc_role: None,
            kanji: None,
            crl_uri: Some("http://crl.shikaku.invalid/root.crl".to_owned()),
            crl_directory_name: None,
            extra_extensions: Vec::new(),
        }
    }

    /// An end entity as real HPKI cards: an authentication certificate (keyUsage
    /// digitalSignature, authentication policy) or a signature one (nonRepudiation, signature
    /// policy), policies critical, hcRole `role` with EXPLICIT tags.
    pub fn end_entity(subject: Vec<(String, String)>, serial: u64, role: &str, signature: bool) -> CertSpec {
        CertSpec {
            subject,
            serial,
            not_before: TestPki::EE_NOT_BEFORE,
            not_after: TestPki::EE_NOT_AFTER,
            ca: None,
            key_usage: Some(if signature { vec![1] } else { vec![0] }),
            eku: None,
            policies: vec![
                if signature { oids::POLICY_SIGNATURE_EE } else { oids::POLICY_AUTH_EE }.to_owned(),
            ],
            policies_critical: true,
            hc_role: Some((role.to_owned(), HcRoleEncoding::Explicit)),
            kanji: None,
            crl_uri: None,
            crl_directory_name: None,
            extra_extensions: Vec::new(),
        }
    }
}
